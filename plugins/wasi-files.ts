// File access through WASI preview 1, called directly (no libc), so that a test sees
// exactly which WASI functions a sandbox decision comes from: path_open against the
// preopened directory that holds the path, then fd_read / fd_write / fd_readdir.
import { Host, Memory } from "@extism/as-pdk";
import { alloc, error_set, output_set, store_u64, store_u8 } from "@extism/as-pdk/lib/env";

@external("wasi_snapshot_preview1", "fd_prestat_get")
declare function fd_prestat_get(fd: u32, prestat: usize): i32;
@external("wasi_snapshot_preview1", "fd_prestat_dir_name")
declare function fd_prestat_dir_name(fd: u32, path: usize, pathLen: usize): i32;
@external("wasi_snapshot_preview1", "path_open")
declare function path_open(
  dirFd: u32,
  lookupFlags: u32,
  path: usize,
  pathLen: usize,
  openFlags: u32,
  rightsBase: u64,
  rightsInheriting: u64,
  fdFlags: u32,
  openedFd: usize,
): i32;
@external("wasi_snapshot_preview1", "fd_read")
declare function fd_read(fd: u32, iovs: usize, iovsLen: usize, nread: usize): i32;
@external("wasi_snapshot_preview1", "fd_write")
declare function fd_write(fd: u32, iovs: usize, iovsLen: usize, nwritten: usize): i32;
@external("wasi_snapshot_preview1", "fd_readdir")
declare function fd_readdir(fd: u32, buf: usize, bufLen: usize, cookie: u64, bufUsed: usize): i32;
@external("wasi_snapshot_preview1", "fd_close")
declare function fd_close(fd: u32): i32;

const ERRNO_BADF = 8;
const ERRNO_NOTCAPABLE = 76;
const LOOKUP_SYMLINK_FOLLOW: u32 = 1;
const OFLAGS_CREAT: u32 = 1;
const OFLAGS_DIRECTORY: u32 = 2;
const OFLAGS_TRUNC: u32 = 8;
const RIGHT_FD_READ: u64 = 1 << 1;
const RIGHT_FD_WRITE: u64 = 1 << 6;
const RIGHT_FD_READDIR: u64 = 1 << 14;
const PREOPEN_TYPE_DIR: u8 = 0;
const DIRENT_HEADER_SIZE: usize = 24;

// Out-parameters of the WASI calls. Static, since nothing here is re-entered.
const scratch = memory.data(16);
const iovec = memory.data(8);

/** Input `{"path": "...", "content": "..."}`; creates or truncates the file. */
export function write_file(): i32 {
  const fields = parseStringObject(Host.inputString());
  if (fields === null || !fields.has("path") || !fields.has("content")) {
    return fail('write_file: input must be a JSON object {"path": "...", "content": "..."}');
  }
  const path = fields.get("path");
  const opened = openPath("write_file", path, OFLAGS_CREAT | OFLAGS_TRUNC, RIGHT_FD_WRITE);
  if (opened < 0) return 1;
  const fd = <u32>opened;

  const content = String.UTF8.encode(fields.get("content"));
  let done = 0;
  // fd_write may write less than asked (a pipe, a full disk): keep going until it is all out.
  while (done < content.byteLength) {
    store<u32>(iovec, changetype<usize>(content) + <usize>done);
    store<u32>(iovec, content.byteLength - done, 4);
    const errno = fd_write(fd, iovec, 1, scratch);
    if (errno != 0) {
      fd_close(fd);
      return fail(wasiError("write_file", "fd_write", path, errno));
    }
    done += load<u32>(scratch);
  }
  fd_close(fd);
  Host.output(Uint8Array.wrap(String.UTF8.encode("ok")));
  return 0;
}

/** Input: a guest path; output: the file's bytes. */
export function read_file(): i32 {
  const path = Host.inputString();
  const opened = openPath("read_file", path, 0, RIGHT_FD_READ);
  if (opened < 0) return 1;
  const fd = <u32>opened;

  let buffer = new ArrayBuffer(64 * 1024);
  let size = 0;
  while (true) {
    if (size == buffer.byteLength) buffer = grow(buffer, size * 2);
    store<u32>(iovec, changetype<usize>(buffer) + <usize>size);
    store<u32>(iovec, buffer.byteLength - size, 4);
    const errno = fd_read(fd, iovec, 1, scratch);
    if (errno != 0) {
      fd_close(fd);
      return fail(wasiError("read_file", "fd_read", path, errno));
    }
    const n = load<u32>(scratch);
    if (n == 0) break;
    size += n;
  }
  fd_close(fd);
  outputLinear(changetype<usize>(buffer), size);
  return 0;
}

/** Input: a guest directory; output: its entries' names, sorted, one per line. */
export function list_dir(): i32 {
  const path = Host.inputString();
  const opened = openPath("list_dir", path, OFLAGS_DIRECTORY, RIGHT_FD_READDIR);
  if (opened < 0) return 1;
  const fd = <u32>opened;

  const names = new Array<string>();
  let buffer = new ArrayBuffer(4096);
  let cookie: u64 = 0;
  while (true) {
    const errno = fd_readdir(fd, changetype<usize>(buffer), buffer.byteLength, cookie, scratch);
    if (errno != 0) {
      fd_close(fd);
      return fail(wasiError("list_dir", "fd_readdir", path, errno));
    }
    const used = <usize>load<u32>(scratch);
    const base = changetype<usize>(buffer);
    let offset: usize = 0;
    let complete = 0;
    // fd_readdir cuts the last entry off where the buffer ends; such an entry is read
    // again, from its cookie, on the next round.
    while (offset + DIRENT_HEADER_SIZE <= used) {
      const nameLength = <usize>load<u32>(base + offset, 16);
      if (offset + DIRENT_HEADER_SIZE + nameLength > used) break;
      const name = String.UTF8.decodeUnsafe(base + offset + DIRENT_HEADER_SIZE, nameLength);
      if (name != "." && name != "..") names.push(name);
      cookie = load<u64>(base + offset);
      offset += DIRENT_HEADER_SIZE + nameLength;
      complete++;
    }
    if (used < <usize>buffer.byteLength) break;
    // A full buffer that held no whole entry means one name is longer than the buffer.
    if (complete == 0) buffer = new ArrayBuffer(buffer.byteLength * 2);
  }
  fd_close(fd);
  // Directory order depends on the file system; sorted output keeps tests portable.
  names.sort();
  Host.output(Uint8Array.wrap(String.UTF8.encode(names.join("\n"))));
  return 0;
}

/** Writes a fixed line to stdout (fd 1), to test where a host routes WASI output. */
export function hello_stdout(): i32 {
  const line = String.UTF8.encode("hello from wasi\n");
  store<u32>(iovec, changetype<usize>(line));
  store<u32>(iovec, line.byteLength, 4);
  const errno = fd_write(1, iovec, 1, scratch);
  if (errno != 0) return fail("hello_stdout: fd_write to stdout failed: " + errnoText(errno));
  Host.output(Uint8Array.wrap(String.UTF8.encode("done")));
  return 0;
}

/**
 * Opens `path` relative to the preopened directory that holds it; the fd, or -1 after
 * setting the call's error.
 */
function openPath(exportName: string, path: string, openFlags: u32, rights: u64): i64 {
  const preopen = findPreopen(path);
  if (preopen === null) {
    fail(exportName + ': "' + path + '" is outside every preopened directory: ' + errnoText(ERRNO_NOTCAPABLE));
    return -1;
  }
  const relative = String.UTF8.encode(preopen.relative);
  const errno = path_open(
    preopen.fd,
    LOOKUP_SYMLINK_FOLLOW,
    changetype<usize>(relative),
    relative.byteLength,
    openFlags,
    rights,
    0,
    0,
    scratch,
  );
  if (errno != 0) {
    fail(wasiError(exportName, "path_open", path, errno));
    return -1;
  }
  return <i64>load<u32>(scratch);
}

class Preopen {
  constructor(
    public fd: u32,
    public name: string,
    public relative: string,
  ) {}
}

// Preopens are numbered from 3 up to the first fd that is not open. The deepest
// directory containing the path wins, so "/data/sub" beats "/" or "/data".
function findPreopen(path: string): Preopen | null {
  let best: Preopen | null = null;
  for (let fd: u32 = 3; ; fd++) {
    const errno = fd_prestat_get(fd, scratch);
    if (errno == ERRNO_BADF) break;
    if (errno != 0 || load<u8>(scratch) != PREOPEN_TYPE_DIR) continue;
    const nameLength = <usize>load<u32>(scratch, 4);
    const nameBuffer = new ArrayBuffer(<i32>nameLength);
    if (fd_prestat_dir_name(fd, changetype<usize>(nameBuffer), nameLength) != 0) continue;
    const name = trimDirName(String.UTF8.decode(nameBuffer));
    const relative = relativeTo(name, path);
    if (relative === null) continue;
    if (best === null || name.length > best.name.length) best = new Preopen(fd, name, relative);
  }
  return best;
}

// Some runtimes count a trailing NUL in the name, and "/data/" must match like "/data".
function trimDirName(name: string): string {
  let end = name.length;
  while (end > 0 && name.charCodeAt(end - 1) == 0) end--;
  while (end > 1 && name.charCodeAt(end - 1) == 0x2f) end--;
  return name.substring(0, end);
}

function relativeTo(dir: string, path: string): string | null {
  if (path == dir) return ".";
  if (dir == "/") return path.startsWith("/") ? stripLeadingSlashes(path) : null;
  if (dir == "." || dir == "") return path.startsWith("/") ? null : path;
  if (path.startsWith(dir + "/")) return stripLeadingSlashes(path.substring(dir.length));
  return null;
}

function stripLeadingSlashes(s: string): string {
  let start = 0;
  while (start < s.length && s.charCodeAt(start) == 0x2f) start++;
  return start == s.length ? "." : s.substring(start);
}

function grow(buffer: ArrayBuffer, capacity: i32): ArrayBuffer {
  const bigger = new ArrayBuffer(capacity);
  memory.copy(changetype<usize>(bigger), changetype<usize>(buffer), <usize>buffer.byteLength);
  return bigger;
}

// Copies linear memory into a new output block in 8-byte steps (the PDK stores per byte
// or needs a Uint8Array of exactly the right length).
function outputLinear(ptr: usize, size: i32): void {
  const n = <u64>size;
  const block = alloc(n);
  let i: u64 = 0;
  for (; i + 8 <= n; i += 8) store_u64(block + i, load<u64>(ptr + <usize>i));
  for (; i < n; i++) store_u8(block + i, load<u8>(ptr + <usize>i));
  if (n > 0) output_set(block, n);
}

function fail(message: string): i32 {
  error_set(Memory.allocateString(message).offset);
  return 1;
}

function wasiError(exportName: string, what: string, path: string, errno: i32): string {
  return exportName + ": " + what + ' "' + path + '" failed: ' + errnoText(errno);
}

function errnoText(errno: i32): string {
  return "WASI errno " + errno.toString() + " (" + errnoName(errno) + ")";
}

// The errnos a file-system call can plausibly return; the number is always printed.
function errnoName(errno: i32): string {
  switch (errno) {
    case 2: return "acces";
    case 8: return "badf";
    case 20: return "exist";
    case 21: return "fault";
    case 28: return "inval";
    case 29: return "io";
    case 31: return "isdir";
    case 32: return "loop";
    case 37: return "nametoolong";
    case 44: return "noent";
    case 51: return "nospc";
    case 52: return "nosys";
    case 54: return "notdir";
    case 55: return "notempty";
    case 58: return "notsup";
    case 63: return "perm";
    case 69: return "rofs";
    case 76: return "notcapable";
    default: return "unknown";
  }
}

// Just enough JSON for this plug-in's input: one object whose values are all strings.
function parseStringObject(text: string): Map<string, string> | null {
  const parser = new JsonParser(text);
  const fields = new Map<string, string>();
  parser.skipSpace();
  if (!parser.eat(0x7b)) return null;
  parser.skipSpace();
  if (parser.eat(0x7d)) return parser.atEnd() ? fields : null;
  while (true) {
    const key = parser.string();
    if (key === null) return null;
    parser.skipSpace();
    if (!parser.eat(0x3a)) return null;
    parser.skipSpace();
    const value = parser.string();
    if (value === null) return null;
    fields.set(key, value);
    parser.skipSpace();
    if (parser.eat(0x2c)) {
      parser.skipSpace();
      continue;
    }
    if (!parser.eat(0x7d)) return null;
    return parser.atEnd() ? fields : null;
  }
}

class JsonParser {
  pos: i32 = 0;
  constructor(public text: string) {}

  atEnd(): bool {
    this.skipSpace();
    return this.pos == this.text.length;
  }

  skipSpace(): void {
    while (this.pos < this.text.length) {
      const c = this.text.charCodeAt(this.pos);
      if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) break;
      this.pos++;
    }
  }

  eat(c: i32): bool {
    if (this.pos < this.text.length && this.text.charCodeAt(this.pos) == c) {
      this.pos++;
      return true;
    }
    return false;
  }

  string(): string | null {
    if (!this.eat(0x22)) return null;
    // Unescaped runs are sliced, not appended per character, so a large file content
    // stays linear to parse.
    const parts = new Array<string>();
    let runStart = this.pos;
    while (this.pos < this.text.length) {
      const c = this.text.charCodeAt(this.pos);
      if (c == 0x22) {
        parts.push(this.text.substring(runStart, this.pos));
        this.pos++;
        return parts.join("");
      }
      if (c < 0x20) return null;
      if (c != 0x5c) {
        this.pos++;
        continue;
      }
      parts.push(this.text.substring(runStart, this.pos));
      if (this.pos + 1 >= this.text.length) return null;
      const e = this.text.charCodeAt(this.pos + 1);
      this.pos += 2;
      if (e == 0x22) parts.push('"');
      else if (e == 0x5c) parts.push("\\");
      else if (e == 0x2f) parts.push("/");
      else if (e == 0x62) parts.push("\b");
      else if (e == 0x66) parts.push("\f");
      else if (e == 0x6e) parts.push("\n");
      else if (e == 0x72) parts.push("\r");
      else if (e == 0x74) parts.push("\t");
      else if (e == 0x75) {
        // A \uXXXX escape is one UTF-16 unit; a surrogate pair is two escapes in a row,
        // which joined back together make the character.
        if (this.pos + 4 > this.text.length) return null;
        let unit = 0;
        for (let k = 0; k < 4; k++) {
          const digit = hexDigit(this.text.charCodeAt(this.pos + k));
          if (digit < 0) return null;
          unit = (unit << 4) | digit;
        }
        parts.push(String.fromCharCode(unit));
        this.pos += 4;
      } else return null;
      runStart = this.pos;
    }
    return null;
  }
}

function hexDigit(c: i32): i32 {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}
