//! Embeds every message catalog under `web/assets/i18n/`, so adding a language
//! is adding its file: the server lists the languages from what it finds here.

use std::{env, fs, path::Path};

fn main() {
    let manifest = env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let dir = Path::new(&manifest).join("web/assets/i18n");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut codes: Vec<String> = fs::read_dir(&dir)
        .expect("web/assets/i18n exists")
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            if path.extension()? != "json" {
                return None;
            }
            Some(path.file_stem()?.to_str()?.to_owned())
        })
        .collect();
    codes.sort();
    let mut out = String::from("/// Every message catalog: (language code, the catalog's JSON).\n");
    out.push_str("pub const CATALOGS: &[(&str, &[u8])] = &[\n");
    for code in &codes {
        assert!(
            !code.is_empty() && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
            "web/assets/i18n/{code}.json: a catalog is named by its language code (\"pt-BR\")"
        );
        let path = dir.join(format!("{code}.json"));
        out.push_str(&format!("    ({code:?}, include_bytes!({:?})),\n", path.display().to_string()));
    }
    out.push_str("];\n");
    let target = Path::new(&env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("catalogs.rs");
    fs::write(target, out).expect("OUT_DIR is writable");
}
