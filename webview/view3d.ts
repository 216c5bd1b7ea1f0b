/**
 * The fourth pane's view (its own bundle, dist/view3d.js, loaded by view3dPane.ts once every voxel
 * is in): the labels and the prediction in 3D (three.js on WebGL2, the one pane that uses it). A
 * surface per class in the class colours (labels solid, the prediction see-through), built by
 * marching cubes in a web worker (meshWorker.ts) on a coarse grid first and refined when idle;
 * after a stroke only the bricks it touched are built again. The three slice planes through the
 * crosshair show as outlines; the mouse rotates (left), pans (right) and zooms (wheel), and a
 * click on a surface moves the crosshair there. Any pane can be maximized, this one too.
 */
import {
  AmbientLight,
  BufferAttribute,
  BufferGeometry,
  Color,
  DirectionalLight,
  DoubleSide,
  Group,
  LineBasicMaterial,
  LineLoop,
  LineSegments,
  Matrix4,
  Mesh,
  MeshLambertMaterial,
  PerspectiveCamera,
  Raycaster,
  Scene,
  Vector2,
  Vector3,
  SRGBColorSpace,
  WebGLRenderer,
  BoxGeometry,
  EdgesGeometry,
} from 'three';
import { OrbitControls } from 'three/examples/jsm/controls/OrbitControls.js';
import type { LabelArray } from '../src/core/editDeltas';
import type { Vec3 } from '../src/core/geometry';
import { cellAligned, gridFactors, labelsOfBox, type BrickMesh, type MeshLayer, type MeshLevel, type VoxelRange } from './meshBuilder';
import type { FromMeshWorker, ToMeshWorker } from './meshProtocol';
import type { View3dFrame, View3dHost, View3dView } from './view3dTypes';

/** Opacity of the prediction's surfaces (the labels' are opaque). */
const PREDICTION_OPACITY = 0.35;
/** Milliseconds without a change before the surfaces are built at the fine level. */
const IDLE_MS = 400;
/** Fine cells per slab of labels sent to the worker at a time. */
const SLAB_CELLS = 8;
const PLANE_COLOUR = 0x50c8ff;

/** Starts the mesh worker from its bundle: fetched, then run from a blob (a webview may not start a worker from a resource URL). */
async function startWorker(url: string): Promise<Worker> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`the mesh worker could not be loaded (HTTP ${response.status})`);
  const blob = new Blob([await response.text()], { type: 'text/javascript' });
  return new Worker(URL.createObjectURL(blob));
}

export class View3d implements View3dView {
  private readonly canvas: HTMLCanvasElement;
  private renderer: WebGLRenderer | undefined;
  private readonly scene = new Scene();
  private readonly camera = new PerspectiveCamera(35, 1, 1, 10_000);
  private controls: OrbitControls | undefined;
  /** Holds everything in voxel coordinates; its matrix is the affine (voxels → RAS mm). */
  private readonly volumeGroup = new Group();
  private readonly meshes = new Map<string, Mesh>();
  private readonly meshesOfBrick = new Map<string, Set<string>>();
  private readonly materials = new Map<string, MeshLambertMaterial>();
  private readonly planeOutlines: LineLoop[] = [];
  private worker: Worker | undefined;
  private workerFailed: string | undefined;
  /** WebGL and the worker are set up and surfaces built, from `activate` on (once the voxels are in). */
  private active = false;
  private readonly counted = new Map<number, () => void>();
  private nextId = 1;
  /** Work for the worker, one job after another (a label map sent whole, then an edit's box). */
  private queue: Promise<void> = Promise.resolve();
  private readonly shownLevel: Record<MeshLayer, MeshLevel | undefined> = { labels: undefined, prediction: undefined };
  private readonly latestBuild: Record<MeshLayer, number> = { labels: 0, prediction: 0 };
  private readonly idleTimers: Partial<Record<MeshLayer, ReturnType<typeof setTimeout>>> = {};
  /** The prediction array last sent to the worker (a training preview does not change it). */
  private sentPrediction: Readonly<LabelArray> | undefined;
  private renderRequested = false;
  private readonly factors: { fine: number; coarse: number };
  /** Builds the worker has answered, for tests: layer, level, milliseconds. */
  readonly builds: { layer: MeshLayer; level: MeshLevel; milliseconds: number; meshes: number }[] = [];

  constructor(
    private readonly host: View3dHost,
    private readonly frame: View3dFrame,
    private readonly workerUrl: string | undefined,
  ) {
    this.factors = gridFactors(host.dims);
    this.canvas = frame.canvas;
    this.volumeGroup.matrixAutoUpdate = false;
    const a = host.affine;
    this.volumeGroup.matrix.set(a[0][0], a[0][1], a[0][2], a[0][3], a[1][0], a[1][1], a[1][2], a[1][3], a[2][0], a[2][1], a[2][2], a[2][3], 0, 0, 0, 1);
    this.scene.add(this.volumeGroup);
  }

  /**
   * Sets up WebGL, starts the mesh worker and builds the surfaces once it is there. The pane
   * calls it once the volume is in (it loads the view then): the context, its shaders (compiled on
   * the CPU where the browser renders WebGL in software), the worker's script and the meshing
   * would otherwise share the two cores with the opening.
   */
  activate(): void {
    if (this.active) return;
    this.active = true;
    this.setUpRenderer();
    if (!this.renderer) return;
    this.addFrame();
    if (!this.workerUrl) this.failWorker('no mesh worker was given to the page');
    else {
      startWorker(this.workerUrl).then(
        (worker) => this.useWorker(worker),
        (error: Error) => this.failWorker(error.message),
      );
    }
  }

  // ------------------------------------------------------------ set-up

  private setUpRenderer(): void {
    let renderer: WebGLRenderer;
    try {
      if (!this.canvas.getContext('webgl2')) throw new Error('WebGL2 is not available');
      renderer = new WebGLRenderer({ canvas: this.canvas, antialias: true });
    } catch (error) {
      this.frame.showNote(`The 3D view needs WebGL2, which this window does not give (${(error as Error).message}). The slice panes work as usual.`);
      return;
    }
    this.renderer = renderer;
    renderer.setPixelRatio(window.devicePixelRatio || 1);
    renderer.setClearColor(new Color(0x000000));
    this.scene.add(new AmbientLight(0xffffff, 0.55));
    const headlight = new DirectionalLight(0xffffff, 1.6);
    headlight.position.set(0.3, 0.6, 1);
    this.camera.add(headlight);
    this.scene.add(this.camera);
    const controls = new OrbitControls(this.camera, this.canvas);
    controls.enableDamping = false;
    controls.addEventListener('change', () => this.requestRender());
    this.controls = controls;
    this.resetCamera();
    new ResizeObserver(() => this.resize()).observe(this.canvas);
    this.attachPicking();
  }

  /** The volume's bounding box and the three slice planes as outlines. */
  private addFrame(): void {
    const [nx, ny, nz] = this.host.dims;
    const box = new BoxGeometry(nx, ny, nz);
    box.translate(nx / 2 - 0.5, ny / 2 - 0.5, nz / 2 - 0.5);
    const edges = new LineSegments(new EdgesGeometry(box), new LineBasicMaterial({ color: 0x606060 }));
    this.volumeGroup.add(edges);
    for (let axis = 0; axis < 3; axis++) {
      const outline = new LineLoop(new BufferGeometry(), new LineBasicMaterial({ color: PLANE_COLOUR }));
      outline.geometry.setAttribute('position', new BufferAttribute(new Float32Array(12), 3));
      outline.name = `plane-${axis}`;
      this.planeOutlines.push(outline);
      this.volumeGroup.add(outline);
    }
    this.crosshairMoved();
  }

  private useWorker(worker: Worker): void {
    this.worker = worker;
    worker.onmessage = (event: MessageEvent<FromMeshWorker>) => this.onWorkerMessage(event.data);
    worker.onerror = (event) => this.failWorker(event.message || 'the mesh worker stopped');
    this.post({ type: 'init', dims: this.host.dims });
    this.sendAll();
  }

  private sendAll(): void {
    this.labelsReplaced();
    this.predictionReplaced();
  }

  private failWorker(reason: string): void {
    this.workerFailed = reason;
    this.frame.showNote(`The 3D surfaces cannot be built: ${reason}.`);
    this.host.logError(`3D view: ${reason}`);
  }

  private post(message: ToMeshWorker, transfer: Transferable[] = []): void {
    this.worker?.postMessage(message, transfer);
  }

  // ------------------------------------------------------------ what the editor tells

  /** Every label is new (opened, reverted): the label surfaces are built again, coarse first. */
  labelsReplaced(): void {
    this.sendLayer('labels', this.host.labels, this.host.labelCountsZ);
  }

  /** Labels changed in `box` (a stroke ended, an undo): the bricks around it are built again. */
  labelsChanged(box: VoxelRange): void {
    if (!this.worker || !(box.min[0] <= box.max[0])) return;
    this.enqueue(async () => {
      const aligned = cellAligned(box, this.factors.fine, this.host.dims);
      await this.sendBox('labels', this.host.labels, aligned);
      this.build('labels', this.shownLevel.labels ?? 'fine', aligned);
    });
  }

  /** Brings the view in line after a change of the editor's state: a new or removed prediction, the class colours, what is shown. */
  refresh(): void {
    if (this.host.prediction !== this.sentPrediction) this.predictionReplaced();
    this.classesChanged();
    this.visibilityChanged();
  }

  /** The prediction was replaced or removed. */
  private predictionReplaced(): void {
    const prediction = this.host.prediction;
    if (!this.worker) return;
    this.sentPrediction = prediction;
    if (!prediction) {
      this.post({ type: 'clear', layer: 'prediction' });
      this.removeLayer('prediction');
      this.requestRender();
      return;
    }
    this.sendLayer('prediction', prediction, this.host.predictionCountsZ);
  }

  /** The class colours changed. */
  private classesChanged(): void {
    for (const [key, material] of this.materials) {
      const value = Number(key.split(':')[1]);
      material.color.copy(this.colorOf(value));
    }
    this.requestRender();
  }

  /** The prediction was shown or hidden. */
  private visibilityChanged(): void {
    for (const mesh of this.meshes.values()) if (mesh.userData.layer === 'prediction') mesh.visible = this.host.showPrediction;
    this.requestRender();
  }

  /** The crosshair moved: the slice planes' outlines follow. */
  crosshairMoved(): void {
    const [nx, ny, nz] = this.host.dims;
    const c = this.host.crosshair;
    const lo = -0.5;
    const corners: number[][] = [
      [c[0], lo, lo, c[0], ny + lo, lo, c[0], ny + lo, nz + lo, c[0], lo, nz + lo],
      [lo, c[1], lo, nx + lo, c[1], lo, nx + lo, c[1], nz + lo, lo, c[1], nz + lo],
      [lo, lo, c[2], nx + lo, lo, c[2], nx + lo, ny + lo, c[2], lo, ny + lo, c[2]],
    ];
    this.planeOutlines.forEach((outline, axis) => {
      const attribute = outline.geometry.getAttribute('position') as BufferAttribute;
      (attribute.array as Float32Array).set(corners[axis]);
      attribute.needsUpdate = true;
      outline.geometry.computeBoundingSphere();
    });
    this.requestRender();
  }

  // ------------------------------------------------------------ talking to the worker

  private enqueue(job: () => Promise<void>): void {
    this.queue = this.queue.then(job).catch((error: Error) => this.host.logError(`3D view: ${error.stack ?? error.message}`));
  }

  /**
   * Sends a whole label map, slab by slab (each counted before the next goes; slabs without a
   * voxel to mesh are left out, per `countsZ`), then builds it coarse first.
   */
  private sendLayer(layer: MeshLayer, labels: Readonly<LabelArray>, countsZ?: ArrayLike<number>): void {
    if (!this.worker) return;
    this.enqueue(async () => {
      this.post({ type: 'clear', layer });
      const [nx, ny, nz] = this.host.dims;
      const slab = SLAB_CELLS * this.factors.fine;
      for (let z0 = 0; z0 < nz; z0 += slab) {
        const z1 = Math.min(nz, z0 + slab);
        let any = !countsZ;
        for (let z = z0; z < z1 && !any; z++) any = countsZ![z] > 0;
        if (any) await this.sendBox(layer, labels, { min: [0, 0, z0], max: [nx - 1, ny - 1, z1 - 1] });
      }
      this.build(layer, this.factors.coarse === this.factors.fine ? 'fine' : 'coarse');
    });
  }

  private sendBox(layer: MeshLayer, labels: Readonly<LabelArray>, box: VoxelRange): Promise<void> {
    const values = labelsOfBox(labels, this.host.dims, box);
    const id = this.nextId++;
    return new Promise<void>((resolve) => {
      this.counted.set(id, resolve);
      this.post({ type: 'labels', layer, box, values: values.buffer as ArrayBuffer, wide: values instanceof Uint16Array, id }, [values.buffer as ArrayBuffer]);
    });
  }

  private build(layer: MeshLayer, level: MeshLevel, range?: VoxelRange): void {
    const id = this.nextId++;
    if (!range) this.latestBuild[layer] = id;
    this.post({ type: 'build', layer, level, range, id });
  }

  private onWorkerMessage(message: FromMeshWorker): void {
    switch (message.type) {
      case 'counted':
        this.counted.get(message.id)?.();
        this.counted.delete(message.id);
        return;
      case 'error':
        this.host.logError(`3D view worker: ${message.message}`);
        return;
      case 'meshes':
        this.takeMeshes(message);
        return;
    }
  }

  private takeMeshes(message: Extract<FromMeshWorker, { type: 'meshes' }>): void {
    const { layer, level } = message;
    const whole = message.id === this.latestBuild[layer];
    if (whole && this.shownLevel[layer] !== level) this.removeLayer(layer); // a new level replaces the old one whole
    for (const brick of message.bricks) {
      for (const key of this.meshesOfBrick.get(brick) ?? []) this.removeMesh(key);
      this.meshesOfBrick.delete(brick);
    }
    for (const brickMesh of message.meshes) this.addMesh(brickMesh);
    if (whole) this.shownLevel[layer] = level;
    this.builds.push({ layer, level, milliseconds: message.milliseconds, meshes: message.meshes.length });
    if (this.builds.length > 100) this.builds.shift();
    this.frame.element.dataset.surfaces = String(this.meshes.size);
    if (whole && level === 'coarse') this.refineWhenIdle(layer);
    this.requestRender();
  }

  /** Builds the layer at the fine level once nothing has changed for a moment. */
  private refineWhenIdle(layer: MeshLayer): void {
    clearTimeout(this.idleTimers[layer]);
    this.idleTimers[layer] = setTimeout(() => {
      this.idleTimers[layer] = undefined;
      this.enqueue(async () => this.build(layer, 'fine'));
    }, IDLE_MS);
  }

  // ------------------------------------------------------------ the scene

  private colorOf(value: number): Color {
    const { r, g, b } = this.host.colors;
    // The class colours are sRGB, as the slice panes show them.
    return value < r.length ? new Color().setRGB(r[value] / 255, g[value] / 255, b[value] / 255, SRGBColorSpace) : new Color(0.8, 0.8, 0.8);
  }

  private materialOf(layer: MeshLayer, value: number): MeshLambertMaterial {
    const key = `${layer}:${value}`;
    let material = this.materials.get(key);
    if (!material) {
      const prediction = layer === 'prediction';
      material = new MeshLambertMaterial({
        color: this.colorOf(value),
        side: DoubleSide,
        transparent: prediction,
        opacity: prediction ? PREDICTION_OPACITY : 1,
        depthWrite: !prediction,
      });
      this.materials.set(key, material);
    }
    return material;
  }

  private addMesh(brickMesh: BrickMesh): void {
    const geometry = new BufferGeometry();
    geometry.setAttribute('position', new BufferAttribute(brickMesh.positions, 3));
    geometry.setAttribute('normal', new BufferAttribute(brickMesh.normals, 3));
    geometry.setIndex(new BufferAttribute(brickMesh.indices, 1));
    geometry.computeBoundingSphere();
    const mesh = new Mesh(geometry, this.materialOf(brickMesh.layer, brickMesh.value));
    mesh.userData = { layer: brickMesh.layer, value: brickMesh.value };
    mesh.visible = brickMesh.layer === 'labels' || this.host.showPrediction;
    mesh.renderOrder = brickMesh.layer === 'prediction' ? 1 : 0;
    this.removeMesh(brickMesh.key);
    this.meshes.set(brickMesh.key, mesh);
    const brick = brickMesh.key.split(':').filter((_p, i) => i !== 2).join(':');
    if (!this.meshesOfBrick.has(brick)) this.meshesOfBrick.set(brick, new Set());
    this.meshesOfBrick.get(brick)!.add(brickMesh.key);
    this.volumeGroup.add(mesh);
  }

  private removeMesh(key: string): void {
    const mesh = this.meshes.get(key);
    if (!mesh) return;
    this.volumeGroup.remove(mesh);
    mesh.geometry.dispose();
    this.meshes.delete(key);
  }

  private removeLayer(layer: MeshLayer): void {
    for (const key of [...this.meshes.keys()]) if (key.startsWith(`${layer}:`)) this.removeMesh(key);
    for (const brick of [...this.meshesOfBrick.keys()]) if (brick.startsWith(`${layer}:`)) this.meshesOfBrick.delete(brick);
    this.shownLevel[layer] = undefined;
  }

  /**
   * The camera in front of the patient and a little above and to the patient's left (superior up,
   * the patient's right on the screen's left, axial slices seen from above at a slant), the whole
   * volume in sight.
   */
  resetCamera(): void {
    const { centre, radius } = this.bounds();
    const fov = (this.camera.fov * Math.PI) / 180;
    const distance = (radius / Math.sin(fov / 2)) * 1.05;
    this.camera.near = Math.max(0.1, distance - radius * 2);
    this.camera.far = distance + radius * 2;
    const direction = new Vector3(-0.45, 1, 0.6).normalize(); // RAS: left, anterior, superior
    this.camera.position.copy(centre).addScaledVector(direction, distance);
    this.camera.up.set(0, 0, 1);
    this.camera.lookAt(centre);
    this.camera.updateProjectionMatrix();
    if (this.controls) {
      this.controls.target.copy(centre);
      this.controls.update();
    }
    this.requestRender();
  }

  /** The volume's centre and the radius of a sphere around it, world (RAS mm). */
  private bounds(): { centre: Vector3; radius: number } {
    const [nx, ny, nz] = this.host.dims;
    const matrix = new Matrix4().copy(this.volumeGroup.matrix);
    const corners = [0, 1].flatMap((i) => [0, 1].flatMap((j) => [0, 1].map((k) => new Vector3(i * nx - 0.5, j * ny - 0.5, k * nz - 0.5).applyMatrix4(matrix))));
    const centre = corners.reduce((s, p) => s.add(p), new Vector3()).multiplyScalar(1 / corners.length);
    const radius = Math.max(...corners.map((p) => p.distanceTo(centre)));
    return { centre, radius };
  }

  private resize(): void {
    if (!this.renderer) return;
    const { width, height } = this.canvas.getBoundingClientRect();
    if (width < 1 || height < 1) return;
    this.renderer.setSize(width, height, false);
    this.camera.aspect = width / height;
    this.camera.updateProjectionMatrix();
    this.requestRender();
  }

  requestRender(): void {
    if (this.renderRequested || !this.renderer) return;
    this.renderRequested = true;
    requestAnimationFrame(() => {
      this.renderRequested = false;
      this.render();
    });
  }

  private render(): void {
    this.renderer?.render(this.scene, this.camera);
  }

  // ------------------------------------------------------------ picking

  /** A click (a press and release without a drag) on a surface moves the crosshair into it. */
  private attachPicking(): void {
    let down: { x: number; y: number; at: number } | undefined;
    this.canvas.addEventListener('pointerdown', (e) => {
      down = e.button === 0 ? { x: e.clientX, y: e.clientY, at: performance.now() } : undefined;
    });
    this.canvas.addEventListener('pointerup', (e) => {
      if (!down || e.button !== 0) return;
      const moved = Math.hypot(e.clientX - down.x, e.clientY - down.y);
      down = undefined;
      if (moved > 4) return;
      const voxel = this.voxelAt(e.clientX, e.clientY);
      if (voxel) this.host.setCrosshair(voxel);
      else this.host.showMessage('No surface under the click: the crosshair stays.');
    });
  }

  /** The voxel just inside the surface under a page point, or undefined. */
  voxelAt(clientX: number, clientY: number): Vec3 | undefined {
    const rect = this.canvas.getBoundingClientRect();
    const ndc = new Vector2(((clientX - rect.left) / rect.width) * 2 - 1, -((clientY - rect.top) / rect.height) * 2 + 1);
    const raycaster = new Raycaster();
    raycaster.setFromCamera(ndc, this.camera);
    const targets = [...this.meshes.values()].filter((m) => m.visible);
    const hit = raycaster.intersectObjects(targets, false)[0];
    if (!hit) return undefined;
    // Half a voxel past the surface, along the ray: inside the structure.
    const step = Math.min(...this.host.spacing) * 0.5;
    const world = hit.point.clone().addScaledVector(raycaster.ray.direction, step);
    const voxel = world.applyMatrix4(new Matrix4().copy(this.volumeGroup.matrix).invert());
    const dims = this.host.dims;
    return [voxel.x, voxel.y, voxel.z].map((v, a) => Math.max(0, Math.min(dims[a] - 1, Math.round(v)))) as Vec3;
  }

  // ------------------------------------------------------------ for tests

  /** Whether the view can draw (WebGL2) and build surfaces (the worker), and why not. */
  get status(): { webgl: boolean; worker: boolean; problem?: string } {
    return { webgl: this.renderer !== undefined, worker: this.worker !== undefined, problem: this.workerFailed };
  }

  /**
   * Renders now and reads the pixels back: for each class value given, how many pixels show its
   * colour (shaded: the direction of the RGB vector is compared) and their centre, CSS pixels
   * from the canvas's top left.
   */
  readBack(values: number[]): { width: number; height: number; lit: number; classes: Record<number, { pixels: number; x: number; y: number }> } {
    const renderer = this.renderer;
    if (!renderer) throw new Error('the 3D view has no WebGL2');
    this.render();
    const gl = renderer.getContext();
    const width = gl.drawingBufferWidth;
    const height = gl.drawingBufferHeight;
    const pixels = new Uint8Array(width * height * 4);
    gl.readPixels(0, 0, width, height, gl.RGBA, gl.UNSIGNED_BYTE, pixels);
    const targets = values.map((v) => {
      const { r, g, b } = this.host.colors;
      const [cr, cg, cb] = v < r.length ? [r[v], g[v], b[v]] : [204, 204, 204];
      const n = Math.hypot(cr, cg, cb) || 1;
      return { value: v, r: cr / n, g: cg / n, b: cb / n, pixels: 0, sx: 0, sy: 0 };
    });
    let lit = 0;
    const scale = this.canvas.getBoundingClientRect().width / width;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const o = (y * width + x) * 4;
        const r = pixels[o], g = pixels[o + 1], b = pixels[o + 2];
        const n = Math.hypot(r, g, b);
        if (n < 40) continue;
        lit++;
        let best: (typeof targets)[number] | undefined;
        // Shading scales the colour (in linear light): its direction in sRGB stays close.
        let bestCos = 0.95;
        for (const t of targets) {
          const cos = (r * t.r + g * t.g + b * t.b) / n;
          if (cos > bestCos) {
            bestCos = cos;
            best = t;
          }
        }
        if (!best) continue;
        best.pixels++;
        best.sx += x;
        best.sy += height - 1 - y; // GL rows run bottom-up
      }
    }
    const classes: Record<number, { pixels: number; x: number; y: number }> = {};
    for (const t of targets) classes[t.value] = { pixels: t.pixels, x: t.pixels ? (t.sx / t.pixels + 0.5) * scale : NaN, y: t.pixels ? (t.sy / t.pixels + 0.5) * scale : NaN };
    return { width, height, lit, classes };
  }
}

