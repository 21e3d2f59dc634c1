//! A Rust plug-in built the way the Rust PDK's plug-ins are built: a `cdylib` for
//! wasm32-wasi (std over WASI), with our own declarations of the Extism imports.
//! Also compiles for wasm32-unknown-unknown (no WASI): then `read_file` is not built.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

#[link(wasm_import_module = "extism:host/env")]
extern "C" {
    fn alloc(n: u64) -> u64;
    fn length(h: u64) -> u64;
    fn load_u8(p: u64) -> u8;
    fn store_u8(p: u64, v: u8);
    fn input_length() -> u64;
    fn input_load_u8(offset: u64) -> u8;
    fn output_set(h: u64, n: u64);
    fn error_set(h: u64);
    fn config_get(key: u64) -> u64;
    fn var_get(key: u64) -> u64;
    fn var_set(key: u64, value: u64);
}

fn to_kernel(bytes: &[u8]) -> u64 {
    unsafe {
        let h = alloc(bytes.len() as u64);
        for (i, b) in bytes.iter().enumerate() {
            store_u8(h + i as u64, *b);
        }
        h
    }
}

fn from_kernel(h: u64) -> Vec<u8> {
    unsafe { (0..length(h)).map(|i| load_u8(h + i)).collect() }
}

fn input() -> Vec<u8> {
    unsafe { (0..input_length()).map(|i| input_load_u8(i)).collect() }
}

fn input_string() -> String {
    String::from_utf8_lossy(&input()).into_owned()
}

fn output(bytes: &[u8]) {
    unsafe { output_set(to_kernel(bytes), bytes.len() as u64) }
}

fn fail(message: &str) -> i32 {
    unsafe { error_set(to_kernel(message.as_bytes())) };
    1
}

fn config(key: &str) -> Option<String> {
    let h = unsafe { config_get(to_kernel(key.as_bytes())) };
    if h == 0 {
        None
    } else {
        Some(String::from_utf8_lossy(&from_kernel(h)).into_owned())
    }
}

static mut TOTAL: u64 = 0;

#[no_mangle]
pub extern "C" fn count_vowels() -> i32 {
    let vowels = config("vowels").unwrap_or_else(|| "aeiouAEIOU".to_string());
    let count = input_string().chars().filter(|c| vowels.contains(*c)).count() as u64;
    let total = unsafe {
        TOTAL += count;
        TOTAL
    };
    output(format!(r#"{{"count":{},"total":{},"vowels":"{}"}}"#, count, total, vowels).as_bytes());
    0
}

#[no_mangle]
pub extern "C" fn greet() -> i32 {
    match config("greeting") {
        Some(greeting) => {
            output(format!("{}, {}!", greeting, input_string()).as_bytes());
            0
        }
        None => fail("no greeting configured"),
    }
}

/// A counter in a var: the var holds the decimal count.
#[no_mangle]
pub extern "C" fn count_calls() -> i32 {
    let previous = unsafe { var_get(to_kernel(b"count")) };
    let count: u64 = if previous == 0 { 0 } else { String::from_utf8_lossy(&from_kernel(previous)).parse().unwrap_or(0) };
    let next = (count + 1).to_string();
    unsafe { var_set(to_kernel(b"count"), to_kernel(next.as_bytes())) };
    output(next.as_bytes());
    0
}

/// Panics with the input as its message: a trap for the host (panic=abort on wasm).
#[no_mangle]
pub extern "C" fn panic() -> i32 {
    let message = input_string();
    if !message.is_empty() {
        panic!("{}", message);
    }
    0
}

/// Vec, String, HashMap and BTreeMap work: word frequencies, sorted by count then word.
#[no_mangle]
pub extern "C" fn word_stats() -> i32 {
    let text = input_string();
    let mut counts: HashMap<String, usize> = HashMap::new();
    for word in text.split_whitespace() {
        let word: String = word.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect();
        if !word.is_empty() {
            *counts.entry(word).or_insert(0) += 1;
        }
    }
    let mut pairs: Vec<(String, usize)> = counts.into_iter().collect();
    pairs.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut lengths: BTreeMap<usize, usize> = BTreeMap::new();
    for (word, n) in &pairs {
        *lengths.entry(word.chars().count()).or_insert(0) += n;
    }
    let mut out = String::new();
    for (word, n) in pairs.iter().take(3) {
        write!(out, "{}={} ", word, n).unwrap();
    }
    write!(out, "| lengths {:?}", lengths).unwrap();
    output(out.as_bytes());
    0
}

/// Allocates and sorts a big vector: input is the element count.
#[no_mangle]
pub extern "C" fn sort_numbers() -> i32 {
    let n: u32 = match input_string().trim().parse() {
        Ok(n) => n,
        Err(e) => return fail(&format!("bad count: {}", e)),
    };
    let mut state: u32 = 12345;
    let mut v: Vec<u32> = (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state
        })
        .collect();
    v.sort_unstable();
    let checksum = v.iter().enumerate().fold(0u64, |acc, (i, x)| acc.wrapping_mul(31).wrapping_add(*x as u64 ^ i as u64));
    output(format!("{} {} {}", v.len(), v.first().copied().unwrap_or(0), checksum).as_bytes());
    0
}

/// std::fs through WASI: reads the file named by the input.
#[cfg(target_os = "wasi")]
#[no_mangle]
pub extern "C" fn read_file() -> i32 {
    let path = input_string();
    match std::fs::read(&path) {
        Ok(bytes) => {
            output(&bytes);
            0
        }
        Err(e) => fail(&format!("cannot read {}: {}", path, e)),
    }
}

/// std::fs::write then read_dir, through WASI.
#[cfg(target_os = "wasi")]
#[no_mangle]
pub extern "C" fn write_and_list() -> i32 {
    let dir = input_string();
    if let Err(e) = std::fs::write(format!("{}/from-rust.txt", dir), b"written by rust") {
        return fail(&format!("cannot write in {}: {}", dir, e));
    }
    let mut names: Vec<String> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect(),
        Err(e) => return fail(&format!("cannot list {}: {}", dir, e)),
    };
    names.sort();
    output(names.join(",").as_bytes());
    0
}

/// println! to stdout and eprintln! to stderr, through WASI.
#[cfg(target_os = "wasi")]
#[no_mangle]
pub extern "C" fn print() -> i32 {
    println!("hello from rust, {}", input_string());
    eprintln!("to stderr");
    0
}

/// Never returns on its own.
#[no_mangle]
pub extern "C" fn spin() -> i32 {
    let mut x: u64 = 1;
    loop {
        // a volatile write the optimizer must keep (std::hint::black_box needs Rust 1.66)
        unsafe { std::ptr::write_volatile(&mut x, x.wrapping_mul(6364136223846793005).wrapping_add(1)) };
    }
}
