"""Shared by pyperf-record and pyperf-maps: a perf.data reader (file and pipe
mode, standard library only), ELF build-id/section reader, and the
frame-pointer check of a libpython/python binary."""
import mmap
import os
import re
import shutil
import struct
import subprocess

MAGIC = 0x32454C4946524550
PIPE_HEADER_SIZE = 16
FILE_HEADER_SIZE = 104

# sample_type bits
S_IP, S_TID, S_ID, S_CALLCHAIN = 1 << 0, 1 << 1, 1 << 6, 1 << 5
S_REGS_USER, S_STACK_USER, S_IDENTIFIER = 1 << 12, 1 << 13, 1 << 16
S_TIME, S_ADDR = 1 << 2, 1 << 3
SW_NAMES = {0: "cpu-clock", 1: "task-clock", 2: "page-faults", 3: "context-switches",
            4: "cpu-migrations", 5: "minor-faults", 6: "major-faults", 9: "dummy"}
PSEUDO_DSOS = re.compile(r"^(\[.*\]|//anon|/tmp/perf-\d+\.map|/tmp/jit-\d+\.dump|"
                         r"/dev/|/memfd:|/anon_hugepage|/SYSV|.*\.map$)")
PYTHON_DSO = re.compile(r"(^|/)(libpython\d[\d.]*[a-z]*\.so[\d.]*|python\d[\d.]*[a-z]*)$")


class Error(Exception):
    """A problem to report in one line: 'pyperf-maps: message'."""


def maps_dir_of(data):
    return data + ".maps"


# --------------------------------------------------------------- perf.data

class Recording:
    """What pyperf-maps needs from a perf.data file (file or pipe mode):
    attrs and event names, build-ids, command line, and from the records the
    processes (COMM/FORK/MMAP/SAMPLE pids), samples per event and per pid,
    lost samples and each process's executable mappings. Every offset and
    length is checked; a damaged file raises Error naming the offset, or,
    part-way through the records, sets .damaged and keeps what was read."""

    def __init__(self, path):
        self.path = path
        self.attrs = []          # dicts: type, config, sample_type, flags, stack_user, ids, name
        self.id2attr = {}
        self.build_ids = []      # (hex, filename, cpumode)
        self.cmdline, self.hostname, self.osrelease, self.perf_version = [], "", "", ""
        self.pids, self.forked, self.comms = set(), set(), {}
        self.samples = {}        # attr index -> count
        self.pid_samples = {}    # pid -> count
        self.lost = 0
        self.mmaps = {}          # pid -> set of exec filenames
        self.anon_exec = set()   # pids with an anonymous executable mapping
        self.compressed = False
        self.damaged = None
        self.pipe = False
        try:
            with open(path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if size == 0:
                    raise Error("%s: empty file (was perf record interrupted?)" % path)
                with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
                    self._parse(buf, size)
        except OSError as e:
            raise Error("%s: %s" % (path, e.strerror or e))
        if self.compressed:
            self._from_perf()

    def _fail(self, off, what):
        raise Error("%s: offset %d: %s" % (self.path, off, what))

    def _parse(self, b, size):
        if size < 16:
            self._fail(0, "too short for a perf.data header")
        magic, hsize = struct.unpack_from("<QQ", b, 0)
        if magic != MAGIC:
            self._fail(0, "not a perf.data file (bad magic; big-endian files are not supported)")
        if hsize == PIPE_HEADER_SIZE:
            self.pipe = True
            self._records(b, 16, size)
            return
        if hsize not in (FILE_HEADER_SIZE, 72) or size < hsize:
            self._fail(8, "bad header size %d" % hsize)
        attr_size, a_off, a_size, d_off, d_size = struct.unpack_from("<5Q", b, 16)
        if attr_size < 64 + 16 or a_off + a_size > size or a_size % attr_size:
            self._fail(16, "bad attr section (attr_size %d, size %d)" % (attr_size, a_size))
        for i in range(a_size // attr_size):
            base = a_off + i * attr_size
            attr = self._attr(b, base, attr_size - 16)
            ids_off, ids_size = struct.unpack_from("<QQ", b, base + attr_size - 16)
            if ids_off + ids_size > size or ids_size % 8 or ids_size > 1 << 24:
                self._fail(base, "bad id section of attr %d" % i)
            attr["ids"] = list(struct.unpack_from("<%dQ" % (ids_size // 8), b, ids_off))
            self._add_attr(attr)
        if d_off > size:
            self._fail(40, "data section beyond the end of the file")
        feat_words = struct.unpack_from("<4Q", b, 72) if hsize == FILE_HEADER_SIZE else (0,) * 4
        data_end = min(size, d_off + d_size) if d_size else size
        if d_size and d_off + d_size <= size:
            self._features(b, d_off + d_size, feat_words, size)
        self._records(b, d_off, data_end)

    def _attr(self, b, off, avail):
        if avail < 64 or off + 64 > len(b):
            self._fail(off, "attr too short")
        typ, asize, config, _, stype, _, flags = struct.unpack_from("<IIQQQQQ", b, off)
        stack_user = struct.unpack_from("<I", b, off + 88)[0] if min(asize, avail) >= 96 else 0
        return {"type": typ, "config": config, "sample_type": stype, "flags": flags,
                "stack_user": stack_user, "ids": [], "name": None, "size": asize}

    def _add_attr(self, attr):
        idx = len(self.attrs)
        self.attrs.append(attr)
        for i in attr["ids"]:
            self.id2attr[i] = idx

    def _features(self, b, table, words, size):
        bits = [w * 64 + i for w in range(4) for i in range(64) if words[w] >> i & 1]
        if table + 16 * len(bits) > size:
            self._fail(table, "feature table beyond the end of the file")
        for n, feat in enumerate(bits):
            off, fsize = struct.unpack_from("<QQ", b, table + 16 * n)
            if off + fsize > size:
                self._fail(table + 16 * n, "feature %d beyond the end of the file" % feat)
            self._feature(feat, b[off:off + fsize], off)

    @staticmethod
    def _string(p, off):
        (n,) = struct.unpack_from("<I", p, off)
        if off + 4 + n > len(p):
            raise struct.error("string")
        return p[off + 4:off + 4 + n].split(b"\0")[0].decode("utf-8", "replace"), off + 4 + n

    def _feature(self, feat, p, where):
        try:
            if feat == 2:
                self._build_ids(p, where)
            elif feat in (3, 4, 5):
                s = self._string(p, 0)[0]
                if feat == 3:
                    self.hostname = s
                elif feat == 4:
                    self.osrelease = s
                else:
                    self.perf_version = s
            elif feat == 11:
                (n,) = struct.unpack_from("<I", p, 0)
                off, self.cmdline = 4, []
                for _ in range(min(n, 4096)):
                    s, off = self._string(p, off)
                    self.cmdline.append(s)
            elif feat == 12:
                nr, asz = struct.unpack_from("<II", p, 0)
                off = 8
                for _ in range(min(nr, 4096)):
                    off += asz
                    (nids,) = struct.unpack_from("<I", p, off)
                    name, off = self._string(p, off + 4)
                    ids = struct.unpack_from("<%dQ" % nids, p, off)
                    off += 8 * nids
                    for i in ids:
                        if i in self.id2attr:
                            self.attrs[self.id2attr[i]]["name"] = name
                    if not ids and len(self.attrs) == 1:
                        self.attrs[0]["name"] = name
        except struct.error:
            self._fail(where, "feature %d is truncated" % feat)

    def _build_ids(self, p, where):
        off = 0
        while off + 36 <= len(p):
            _, misc, esz = struct.unpack_from("<IHH", p, off)
            if esz < 36 or off + esz > len(p):
                self._fail(where + off, "bad build-id entry size %d" % esz)
            raw = p[off + 12:off + 32]
            n = p[off + 32] if misc & (1 << 15) else 20
            name = p[off + 36:off + esz].split(b"\0")[0].decode("utf-8", "replace")
            self.build_ids.append((raw[:min(n, 20)].hex(), name, misc & 7))
            off += esz

    def _attr_of(self, b, off, rsize):
        if len(self.attrs) <= 1:
            return 0
        st = self.attrs[0]["sample_type"]
        if st & S_IDENTIFIER:
            pos = 8
        elif st & S_ID:
            pos = 8 + 8 * sum(1 for bit in (S_IP, S_TID, S_TIME, S_ADDR) if st & bit)
        else:
            return 0
        if pos + 8 > rsize:
            return None
        (sid,) = struct.unpack_from("<Q", b, off + pos)
        return self.id2attr.get(sid, None if sid else 0)

    def _records(self, b, off, end):
        while off + 8 <= end:
            typ, misc, rsize = struct.unpack_from("<IHH", b, off)
            if rsize < 8 or off + rsize > end:
                self.damaged = "offset %d: record of type %d with size %d %s" % (
                    off, typ, rsize, "is too small" if rsize < 8 else "runs past the end")
                return
            try:
                extra = self._record(b, off, typ, misc, rsize)
            except struct.error:
                self.damaged = "offset %d: record of type %d is truncated" % (off, typ)
                return
            off += rsize + extra

    def _name(self, b, off, end):
        return bytes(b[off:end]).split(b"\0")[0].decode("utf-8", "replace")

    def _record(self, b, off, typ, misc, rsize):
        if typ == 9:                                   # SAMPLE
            idx = self._attr_of(b, off, rsize)
            if idx is None:
                return 0
            self.samples[idx] = self.samples.get(idx, 0) + 1
            st = self.attrs[idx]["sample_type"] if self.attrs else 0
            if st & S_TID:
                pos = 8 + (8 if st & S_IDENTIFIER else 0) + (8 if st & S_IP else 0)
                (pid,) = struct.unpack_from("<I", b, off + pos)
                self.pid_samples[pid] = self.pid_samples.get(pid, 0) + 1
                self.pids.add(pid)
        elif typ in (1, 10):                           # MMAP, MMAP2
            pid = struct.unpack_from("<I", b, off + 8)[0]
            if typ == 1:
                execmap, name = not misc & (1 << 13), self._name(b, off + 40, off + rsize)
            else:
                execmap = bool(struct.unpack_from("<I", b, off + 64)[0] & 4)
                name = self._name(b, off + 72, off + rsize)
            if execmap and pid not in (0, 0xFFFFFFFF):
                self.pids.add(pid)
                self.mmaps.setdefault(pid, set()).add(name)
                if name.startswith("//anon"):
                    self.anon_exec.add(pid)
        elif typ == 3:                                 # COMM
            pid = struct.unpack_from("<I", b, off + 8)[0]
            self.pids.add(pid)
            self.comms[pid] = self._name(b, off + 16, off + rsize)
            if misc & (1 << 13):
                self.mmaps.pop(pid, None)
                self.anon_exec.discard(pid)
        elif typ == 7:                                 # FORK
            pid, ppid = struct.unpack_from("<II", b, off + 8)
            self.pids.add(pid)
            if pid != ppid:
                self.forked.add(pid)
                if ppid in self.mmaps:
                    self.mmaps[pid] = set(self.mmaps[ppid])
                if ppid in self.anon_exec:
                    self.anon_exec.add(pid)
                if ppid in self.comms and pid not in self.comms:
                    self.comms[pid] = self.comms[ppid]
        elif typ == 2:                                 # LOST
            self.lost += struct.unpack_from("<Q", b, off + 16)[0]
        elif typ == 13:                                # LOST_SAMPLES
            self.lost += struct.unpack_from("<Q", b, off + 8)[0]
        elif typ == 81:                                # COMPRESSED
            self.compressed = True
        elif typ == 64:                                # pipe: HEADER_ATTR
            attr = self._attr(b, off + 8, rsize - 8)
            asz = attr["size"] or 64
            n = max(0, (rsize - 8 - asz) // 8)
            attr["ids"] = list(struct.unpack_from("<%dQ" % n, b, off + 8 + asz))
            self._add_attr(attr)
        elif typ == 80:                                # pipe: HEADER_FEATURE
            (feat,) = struct.unpack_from("<Q", b, off + 8)
            self._feature(feat, b[off + 16:off + rsize], off + 16)
        elif typ == 67:                                # pipe: HEADER_BUILD_ID
            self._build_ids(b[off:off + rsize], off)
        elif typ == 66 and self.pipe:                  # pipe: tracing data follows
            return struct.unpack_from("<I", b, off + 8)[0]
        elif typ == 71:                                # AUXTRACE payload follows
            return struct.unpack_from("<Q", b, off + 8)[0]
        return 0

    def _from_perf(self):
        """Compressed records (perf record -z) need zstd, which Python's
        standard library lacks: ask perf for the processes and counts."""
        try:
            out = subprocess.run(["perf", "report", "-i", self.path, "--tasks"],
                                 capture_output=True, text=True, errors="replace").stdout
            for line in out.splitlines():
                f = line.split()
                if len(f) >= 3 and f[0].isdigit() and f[0] != "0":
                    self.pids.add(int(f[0]))
                    comm = line.partition("|")[2].strip()
                    if comm and f[0] == f[1]:
                        self.comms[int(f[0])] = comm
            out = subprocess.run(["perf", "report", "-i", self.path, "--stats"],
                                 capture_output=True, text=True, errors="replace").stdout
        except OSError:
            raise Error("%s: compressed (perf record -z) and perf is not installed to read it"
                        % self.path)
        m = re.search(r"^\s*SAMPLE events:\s*(\d+)", out, re.M)
        if m:
            self.samples = {0: int(m.group(1))}
        m = re.search(r"^\s*LOST_SAMPLES events:\s*(\d+)", out, re.M)
        self.lost = int(m.group(1)) if m else self.lost

    def event_name(self, idx):
        a = self.attrs[idx] if idx < len(self.attrs) else None
        if a is None:
            return "event %d" % idx
        if a["name"]:
            return a["name"]
        if a["type"] == 1 and a["config"] in SW_NAMES:
            return SW_NAMES[a["config"]]
        return "type %d config %d" % (a["type"], a["config"])

    def total_samples(self):
        return sum(self.samples.values())

    def callgraph(self):
        """'dwarf', 'fp' or None, with the stack copy size for dwarf."""
        for a in self.attrs:
            if a["sample_type"] & S_STACK_USER and a["sample_type"] & S_REGS_USER:
                return "dwarf", a["stack_user"]
        for a in self.attrs:
            if a["sample_type"] & S_CALLCHAIN:
                return "fp", 0
        return None, 0

    def python_pids(self):
        """Processes that ran Python with the perf trampoline (an anonymous
        executable mapping in a process that mapped libpython or python)."""
        out = set()
        if self.compressed:         # no mmaps known: go by the command name
            return {p for p in self.pids if self.comms.get(p, "").startswith("python")}
        for pid in self.pids:
            names = self.mmaps.get(pid, ())
            if pid in self.anon_exec and (any(PYTHON_DSO.search(n) for n in names) or
                                          self.comms.get(pid, "").startswith("python")):
                out.add(pid)
        return out


# --------------------------------------------------------------- ELF files

def elf_read(path, want_sections=False):
    """Build-id (hex or None) and section names of an ELF file; None if the
    file is not ELF. Reads only headers and notes, every offset checked."""
    try:
        with open(path, "rb") as f:
            hdr = f.read(64)
            if len(hdr) < 52 or hdr[:4] != b"\x7fELF" or hdr[4] not in (1, 2) or hdr[5] not in (1, 2):
                return None
            e = "<" if hdr[5] == 1 else ">"
            if hdr[4] == 2:
                shoff, = struct.unpack_from(e + "Q", hdr, 0x28)
                shentsize, shnum, shstrndx = struct.unpack_from(e + "HHH", hdr, 0x3A)
                shfmt, need = e + "IIQQQQ", 48
            else:
                shoff, = struct.unpack_from(e + "I", hdr, 0x20)
                shentsize, shnum, shstrndx = struct.unpack_from(e + "HHH", hdr, 0x2E)
                shfmt, need = e + "IIIIII", 24
            size = os.fstat(f.fileno()).st_size
            if shentsize < need or shnum > 65535 or shoff + shentsize * shnum > size:
                return {"build_id": None, "sections": set()}
            f.seek(shoff)
            table = f.read(shentsize * shnum)
            secs = []
            for i in range(shnum):
                name, typ, _, _, off, ssize = struct.unpack_from(shfmt, table, i * shentsize)
                secs.append((name, typ, off, ssize))
            names = set()
            if shstrndx < shnum and secs[shstrndx][2] + secs[shstrndx][3] <= size:
                f.seek(secs[shstrndx][2])
                strtab = f.read(min(secs[shstrndx][3], 1 << 20))
                for s in secs:
                    names.add(strtab[s[0]:strtab.find(b"\0", s[0])].decode("latin-1"))
            bid = None
            for _, typ, off, ssize in secs:
                if typ != 7 or off + ssize > size or ssize > 1 << 20 or bid:
                    continue
                f.seek(off)
                note, p = f.read(ssize), 0
                while p + 12 <= len(note):
                    nsz, dsz, ntype = struct.unpack_from(e + "III", note, p)
                    nend = p + 12 + ((nsz + 3) & ~3)
                    if nend + dsz > len(note):
                        break
                    if ntype == 3 and note[p + 12:p + 12 + nsz].rstrip(b"\0") == b"GNU":
                        bid = note[nend:nend + dsz].hex()
                        break
                    p = nend + ((dsz + 3) & ~3)
            return {"build_id": bid, "sections": names}
    except (OSError, struct.error):
        return None


def debug_file(path, build_id):
    """A separate debug file for the binary (by build-id, as gdb and perf look)."""
    if build_id and len(build_id) > 2:
        for root in ("/usr/lib/debug/.build-id",):
            p = os.path.join(root, build_id[:2], build_id[2:] + ".debug")
            if os.path.isfile(p):
                return p
    cache = os.path.expanduser("~/.debug/.build-id/%s/%s/debug" % (build_id[:2], build_id[2:])) \
        if build_id else None
    if cache and os.path.isfile(cache):
        return cache
    return None


def has_dwarf(info):
    return bool(info) and ".debug_info" in info["sections"]


def _last_flag(tokens):
    """True/False/None: frame pointers according to GCC flags (last wins;
    GCC keeps frame pointers at -O0 and omits them at -O1 and above)."""
    fp, olevel = None, "0"
    for t in tokens:
        if t == "-fno-omit-frame-pointer":
            fp = True
        elif t == "-fomit-frame-pointer":
            fp = False
        elif t.startswith("-O"):
            olevel = t[2:] or "1"
    return fp if fp is not None else (olevel == "0")


def frame_pointers(path, cflags=None):
    """(verdict True/False/None, evidence) for a libpython or python binary.
    Evidence, strongest first: the DWARF DW_AT_producer of Python/ceval.c
    (or of most compile units) in the file or its debug file; the build's
    CFLAGS from sysconfig (when given); else unknown."""
    info = elf_read(path)
    if info is None:
        return None, "%s is not a readable ELF file" % path
    dwarf = path if has_dwarf(info) else debug_file(path, info["build_id"])
    if dwarf and shutil.which("readelf"):
        p = subprocess.run(["readelf", "--debug-dump=info", "--dwarf-depth=1", dwarf],
                           capture_output=True, text=True, errors="replace")
        cus, cur = [], None
        for line in p.stdout.splitlines():
            if "DW_TAG_compile_unit" in line or "DW_TAG_partial_unit" in line:
                cur = {"producer": "", "name": ""}
                cus.append(cur)
                continue
            m = re.search(r"DW_AT_(producer|name)\s*:\s*(?:\(indirect[^)]*\):\s*)?(.*)$", line)
            if m and cur is not None and not cur[m.group(1)]:
                cur[m.group(1)] = m.group(2).strip()
        gcc = [c for c in cus if c["producer"].startswith("GNU C")]
        if gcc:
            with_fp = [c for c in gcc if _last_flag(c["producer"].split())]
            ceval = [c for c in gcc if c["name"].endswith("ceval.c")]
            where = "DWARF producer flags in %s" % dwarf
            if ceval:
                v = _last_flag(ceval[0]["producer"].split())
                return v, "%s: Python/ceval.c %s -fno-omit-frame-pointer (%d of %d C units have it)" % (
                    where, "built with" if v else "built without", len(with_fp), len(gcc))
            v = len(with_fp) * 10 >= len(gcc) * 9
            return v, "%s: %d of %d C compile units with frame pointers" % (
                where, len(with_fp), len(gcc))
        if cus:
            why = "DWARF in %s does not record compiler flags" % dwarf
        else:
            why = "no DWARF compile units read from %s" % dwarf
    elif dwarf:
        why = "readelf is not installed (apt-get install binutils)"
    else:
        why = "no debug info in %s" % path
    if cflags is not None:
        v = _last_flag(cflags.split())
        return v, "%s; so from sysconfig CFLAGS: %s" % (
            why, "-fno-omit-frame-pointer" if v else "no -fno-omit-frame-pointer")
    return None, why
