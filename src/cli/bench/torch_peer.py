"""PyTorch peer for `unet3d bench train|infer|segment|gpu`: the same 3D U-Net, timed in this process.

Reads one JSON command per line on stdin and answers one JSON line on stdout, so the Node
benchmark can run the two engines in turn without them competing for the CPU or the GPU:
  {"cmd": "setup", "levels": 3, "filters": [[16,16],[32,32],[64,64]], "classes": 2,
   "in_channels": 1, "batch_norm": true, "threads": 2, "padding": "same", "device": "cpu"}
      -> {"torch": version, "threads": n, "device": "cpu" or the CUDA device's name}
  {"cmd": "train", "size": 64}   -> {"seconds": ...}  one SGD step: forward, loss, backward, update
  {"cmd": "infer", "size": 64}   -> {"seconds": ...}  one forward pass in eval mode, no gradient
      "shape": [z, y, x] instead of "size" for a box; on CUDA also "tf32": true|false (TF32 tensor
      cores in convolutions and matmuls, off by default), and the reply has "peak_bytes" (the
      most memory PyTorch held during the command)
  {"cmd": "quit"}
Padding "valid" (the paper's network): convolutions without padding, the skip connections
centre-cropped to the up-convolution's size. On CUDA every timing synchronizes before and after,
and cuDNN picks its fastest algorithms (benchmark mode; the caller warms up first).
Needs torch (Debian: apt-get install python3-torch, then /usr/bin/python3).
"""
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Sequential):
    def __init__(self, cin, cout, batch_norm, padding):
        layers = [nn.Conv3d(cin, cout, 3, padding=1 if padding == "same" else 0)]
        if batch_norm:
            layers.append(nn.BatchNorm3d(cout))
        layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


def crop_to(x, like):
    """Centre-crops x [N, C, D, H, W] to like's spatial size (the engine crops the same way)."""
    d, h, w = like.shape[2:]
    z0, y0, x0 = [(s - t) // 2 for s, t in zip(x.shape[2:], (d, h, w))]
    return x[:, :, z0:z0 + d, y0:y0 + h, x0:x0 + w]


class UNet3D(nn.Module):
    """3D U-Net, 'same' or 'valid' padding; up-convolutions keep the channel count, as in the paper."""

    def __init__(self, in_channels, classes, filters, batch_norm, padding="same"):
        super().__init__()
        self.enc = nn.ModuleList()
        c = in_channels
        for a, b in filters:
            self.enc.append(nn.Sequential(Block(c, a, batch_norm, padding), Block(a, b, batch_norm, padding)))
            c = b
        self.up = nn.ModuleList()
        self.dec = nn.ModuleList()
        for level in range(len(filters) - 2, -1, -1):
            skip = filters[level][1]
            self.up.append(nn.ConvTranspose3d(c, c, 2, stride=2, bias=False))
            self.dec.append(nn.Sequential(Block(skip + c, skip, batch_norm, padding), Block(skip, skip, batch_norm, padding)))
            c = skip
        self.final = nn.Conv3d(c, classes, 1)
        self.shrink = 0 if padding == "same" else 4
        self.levels = len(filters)

    def output_size(self, s):
        """The output length along an axis of input length s."""
        for level in range(self.levels):
            s -= self.shrink
            if level < self.levels - 1:
                s //= 2
        for _ in range(self.levels - 1):
            s = 2 * s - self.shrink
        return s

    def forward(self, x):
        skips = []
        for i, block in enumerate(self.enc):
            x = block(x)
            if i < len(self.enc) - 1:
                skips.append(x)
                x = F.max_pool3d(x, 2)
        for up, dec in zip(self.up, self.dec):
            u = up(x)
            x = dec(torch.cat([crop_to(skips.pop(), u), u], dim=1))
        return self.final(x)


def main():
    net = None
    optimizer = None
    in_channels = 1
    classes = 2
    device = torch.device("cpu")
    cuda = False

    def sync():
        if cuda:
            torch.cuda.synchronize()

    for line in sys.stdin:
        msg = json.loads(line)
        cmd = msg["cmd"]
        if cmd == "quit":
            break
        if cmd == "setup":
            torch.set_num_threads(int(msg.get("threads", 2)))
            torch.manual_seed(1)
            in_channels = msg["in_channels"]
            classes = msg["classes"]
            cuda = msg.get("device", "cpu") == "cuda"
            if cuda and not torch.cuda.is_available():
                raise SystemExit("torch has no CUDA here (torch.cuda.is_available() is False)")
            device = torch.device("cuda" if cuda else "cpu")
            if cuda:
                torch.backends.cudnn.benchmark = True
            net = UNet3D(in_channels, classes, msg["filters"], msg["batch_norm"], msg.get("padding", "same")).to(device)
            optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.99)
            reply = {
                "torch": torch.__version__,
                "threads": torch.get_num_threads(),
                "device": torch.cuda.get_device_name(0) if cuda else "cpu",
                "cuda": torch.version.cuda if cuda else None,
            }
        else:
            z, y, x_ = msg["shape"] if "shape" in msg else [int(msg["size"])] * 3
            if cuda:
                tf32 = bool(msg.get("tf32", False))
                torch.backends.cuda.matmul.allow_tf32 = tf32
                torch.backends.cudnn.allow_tf32 = tf32
                torch.cuda.reset_peak_memory_stats()
            x = torch.randn(1, in_channels, z, y, x_, device=device)
            if cmd == "train":
                net.train()
                labels = torch.randint(0, classes, (1,) + tuple(net.output_size(s) for s in (z, y, x_)), device=device)
                sync()
                start, cpu_start = time.perf_counter(), time.process_time()
                optimizer.zero_grad()
                loss = F.cross_entropy(net(x), labels)
                loss.backward()
                optimizer.step()
                sync()
                seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
            else:
                net.eval()
                sync()
                start, cpu_start = time.perf_counter(), time.process_time()
                with torch.no_grad():
                    net(x)
                sync()
                seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
            # process_time: CPU seconds of every thread of this process (a busy machine inflates them far less than the wall clock).
            reply = {"seconds": seconds, "cpu_seconds": cpu_seconds}
            if cuda:
                reply["peak_bytes"] = torch.cuda.max_memory_allocated()
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
