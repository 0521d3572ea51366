"""Reads one tensor of a safetensors file with the standard library only
(the header is JSON, the data little-endian); shared by the golden scripts."""
import json
import struct
import sys


def read_tensor(path, name):
    """(shape, flat list) of tensor `name` of a safetensors file (I64 or F32)."""
    with open(path, "rb") as f:
        (header_len,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(header_len))
        if name not in header:
            sys.exit("%s: no tensor '%s' (has: %s)" % (
                path, name, ", ".join(k for k in header if k != "__metadata__")))
        info = header[name]
        begin, end = info["data_offsets"]
        f.seek(8 + header_len + begin)
        data = f.read(end - begin)
    code = {"I64": "q", "F32": "f"}[info["dtype"]]
    count = (end - begin) // struct.calcsize(code)
    return info["shape"], list(struct.unpack("<%d%s" % (count, code), data))
