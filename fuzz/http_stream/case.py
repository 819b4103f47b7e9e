"""case.py - one stream case: the bytes, how they are delivered, what to expect.

A case is one JSON file under fuzz/corpus/http_stream/ (see README.md
there for the format). The bytes are a JSON string read as Latin-1 (one
character = one byte, so "\\r\\n" and "\\u0000" are readable), or a list of
such strings and {"repeat": "A", "times": 65536} parts.
"""
import hashlib
import json


class Case:
    def __init__(self, data, splits=None, delays_ms=None, end="wait", expect=None,
                 expect_headers=None, comment=""):
        self.data = bytes(data)
        self.splits = sorted(set(s for s in (splits or []) if 0 < s < len(self.data)))
        self.delays_ms = delays_ms or []      # delay before chunk i (missing: 0)
        self.end = end                        # "wait", "shut_wr" or "abandon"
        self.expect = expect                  # [status or [statuses]] of the final responses
        self.expect_headers = expect_headers  # [[name, value]] on the last final response
        self.comment = comment
        self.name = ""

    def chunks(self):
        cuts = [0] + self.splits + [len(self.data)]
        return [self.data[a:b] for a, b in zip(cuts, cuts[1:]) if b > a]

    def delay(self, i):
        return self.delays_ms[i] if i < len(self.delays_ms) else 0

    def digest(self):
        h = hashlib.sha1(self.data)
        h.update(json.dumps([self.splits, self.end]).encode())
        return h.hexdigest()[:10]

    def to_json(self):
        d = {}
        if self.comment:
            d["comment"] = self.comment
        d["stream"] = _compact(self.data)
        if self.splits:
            d["splits"] = self.splits
        if any(self.delays_ms):
            d["delays_ms"] = self.delays_ms
        d["end"] = self.end
        if self.expect is not None:
            d["expect"] = self.expect
        if self.expect_headers:
            d["expect_headers"] = self.expect_headers
        return "{\n" + ",\n".join(" %s: %s" % (json.dumps(k), json.dumps(v))
                                   for k, v in d.items()) + "\n}\n"

    @staticmethod
    def from_json(text, name=""):
        d = json.loads(text)
        parts = d["stream"] if isinstance(d["stream"], list) else [d["stream"]]
        data = b""
        for p in parts:
            if isinstance(p, dict):
                data += p["repeat"].encode("latin-1") * int(p["times"])
            else:
                data += p.encode("latin-1")
        c = Case(data, d.get("splits"), d.get("delays_ms"), d.get("end", "wait"),
                 d.get("expect"), d.get("expect_headers"), d.get("comment", ""))
        c.name = name
        return c


def _compact(data):
    """The stream as JSON parts, long runs of one byte as repeat parts."""
    parts, i, lit = [], 0, b""
    while i < len(data):
        j = i
        while j < len(data) and data[j] == data[i]:
            j += 1
        if j - i >= 64:
            if lit:
                parts.append(lit.decode("latin-1"))
                lit = b""
            parts.append({"repeat": chr(data[i]), "times": j - i})
        else:
            lit += data[i:j]
        i = j
    if lit:
        parts.append(lit.decode("latin-1"))
    return parts[0] if len(parts) == 1 and isinstance(parts[0], str) else parts
