/**
 * The 3D view's bundle (dist/view3d.js): a plain script the page runs once every voxel is in
 * (view3dPane.ts); it leaves the view's class in a global for the page to take.
 */
import { View3d } from './view3d';
import { VIEW3D_GLOBAL } from './view3dTypes';

(globalThis as Record<string, unknown>)[VIEW3D_GLOBAL] = View3d;
