"""PyTorch peer for `unet3d bench train|infer`: the same 3D U-Net, timed in this process.

Reads one JSON command per line on stdin and answers one JSON line on stdout, so the Node
benchmark can run the two engines in turn without them competing for the CPU:
  {"cmd": "setup", "levels": 3, "filters": [[16,16],[32,32],[64,64]], "classes": 2,
   "in_channels": 1, "batch_norm": true, "threads": 2}
  {"cmd": "train", "size": 64}   -> {"seconds": ...}  one SGD step: forward, loss, backward, update
  {"cmd": "infer", "size": 64}   -> {"seconds": ...}  one forward pass in eval mode, no gradient
  {"cmd": "quit"}
Needs torch (Debian: apt-get install python3-torch, then /usr/bin/python3).
"""
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Sequential):
    def __init__(self, cin, cout, batch_norm):
        layers = [nn.Conv3d(cin, cout, 3, padding=1)]
        if batch_norm:
            layers.append(nn.BatchNorm3d(cout))
        layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class UNet3D(nn.Module):
    """3D U-Net, 'same' padding; up-convolutions keep the channel count, as in the paper."""

    def __init__(self, in_channels, classes, filters, batch_norm):
        super().__init__()
        self.enc = nn.ModuleList()
        c = in_channels
        for a, b in filters:
            self.enc.append(nn.Sequential(Block(c, a, batch_norm), Block(a, b, batch_norm)))
            c = b
        self.up = nn.ModuleList()
        self.dec = nn.ModuleList()
        for level in range(len(filters) - 2, -1, -1):
            skip = filters[level][1]
            self.up.append(nn.ConvTranspose3d(c, c, 2, stride=2, bias=False))
            self.dec.append(nn.Sequential(Block(skip + c, skip, batch_norm), Block(skip, skip, batch_norm)))
            c = skip
        self.final = nn.Conv3d(c, classes, 1)

    def forward(self, x):
        skips = []
        for i, block in enumerate(self.enc):
            x = block(x)
            if i < len(self.enc) - 1:
                skips.append(x)
                x = F.max_pool3d(x, 2)
        for up, dec in zip(self.up, self.dec):
            x = dec(torch.cat([skips.pop(), up(x)], dim=1))
        return self.final(x)


def main():
    net = None
    optimizer = None
    in_channels = 1
    classes = 2
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
            net = UNet3D(in_channels, classes, msg["filters"], msg["batch_norm"])
            optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.99)
            reply = {"torch": torch.__version__, "threads": torch.get_num_threads()}
        else:
            s = int(msg["size"])
            x = torch.randn(1, in_channels, s, s, s)
            if cmd == "train":
                labels = torch.randint(0, classes, (1, s, s, s))
                net.train()
                start = time.perf_counter()
                optimizer.zero_grad()
                loss = F.cross_entropy(net(x), labels)
                loss.backward()
                optimizer.step()
                seconds = time.perf_counter() - start
            else:
                net.eval()
                start = time.perf_counter()
                with torch.no_grad():
                    net(x)
                seconds = time.perf_counter() - start
            reply = {"seconds": seconds}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
