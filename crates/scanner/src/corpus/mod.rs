//! The labelled corpus: realistic storage-format pages (headings, prose, tables, code and
//! panel macros, CDATA, entities, links) with planted fakes of every category and decoys, and
//! a label for each planted value saying where it is. [`score`] compares a scan with the
//! labels: recall per kind and per class, decoys hit, and precision.
//!
//! `cargo run -p arkbridge-scanner --example corpus -- --out DIR --pages N --seed S` writes a
//! corpus to disk (`page-NNNNN.xhtml` and `labels.jsonl`); the tests and the benchmark
//! generate it in memory or under `target/`.

mod blocks;
mod decoys;
mod fakes;
mod page;
mod rng;
mod score;

use std::ops::Range;

use ring::digest;
use serde::{Deserialize, Serialize};

pub use score::{Hit, Score, Tally, score};

use page::PageWriter;
use rng::Rng;

/// What a label is, for the goals: format-based tokens, Confluence-style passwords (tables,
/// prose, code `KEY=value`, connection strings), generic keys, or decoys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Class {
    Structured,
    Confluence,
    Generic,
    Decoy,
}

/// One planted value. The value itself is not kept; its SHA-1 (what detect-secrets reports)
/// lets the benchmark match the other tool's results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    /// The file the page is written to.
    pub file: String,
    pub kind: String,
    pub class: Class,
    pub byte_offset: usize,
    pub byte_length: usize,
    pub char_offset: usize,
    pub char_length: usize,
    /// 1-based line of the value's first character in the file.
    pub line: usize,
    /// Hex SHA-1 of the decoded value.
    pub sha1: String,
}

impl Label {
    fn new(kind: &str, class: Class, span: Range<usize>, value: &str) -> Label {
        let sha1 = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, value.as_bytes());
        Label {
            file: String::new(),
            kind: kind.to_string(),
            class,
            byte_offset: span.start,
            byte_length: span.end - span.start,
            char_offset: 0,
            char_length: 0,
            line: 0,
            sha1: hex::encode(sha1.as_ref()),
        }
    }

    pub fn byte_range(&self) -> Range<usize> {
        self.byte_offset..self.byte_offset + self.byte_length
    }
}

/// A generated page and its labels.
#[derive(Debug, Clone)]
pub struct GeneratedPage {
    pub file: String,
    pub storage: String,
    pub labels: Vec<Label>,
}

/// Generates `pages` pages from `seed`. Pages are 8 to 40 kB, with every block separated by a
/// line break (as exports often are) so that line-based tools get realistic lines.
pub fn generate(pages: usize, seed: u64) -> Vec<GeneratedPage> {
    let mut rng = Rng::new(seed);
    let mut plants = 0usize;
    (0..pages)
        .map(|i| {
            let mut w = PageWriter::new();
            let target = 8_000 + rng.below(32_000);
            let planted = rng.below(5);
            let mut todo: Vec<usize> = (0..planted).map(|k| plants + k).collect();
            plants += planted;
            while w.out.len() < target || !todo.is_empty() {
                if !w.out.is_empty() {
                    w.raw("\n");
                }
                if !todo.is_empty() && rng.chance(35) {
                    let n = todo.remove(0);
                    plant(&mut w, &mut rng, n);
                    continue;
                }
                match rng.below(11) {
                    0..=1 => blocks::heading(&mut w, &mut rng),
                    2..=5 => blocks::paragraph(&mut w, &mut rng),
                    6..=7 => blocks::host_table(&mut w, &mut rng),
                    8 => decoys::lookalikes(&mut w, &mut rng),
                    _ => blocks::code(&mut w, &mut rng),
                }
            }
            finish(format!("page-{i:05}.xhtml"), w)
        })
        .collect()
}

/// Writes the `n`th plant of the corpus: the plan cycles through every structured kind, the
/// other secret shapes and the decoys, so that each appears in proportion.
fn plant(w: &mut PageWriter, rng: &mut Rng, n: usize) {
    let shapes = fakes::STRUCTURED.len() + 13;
    let k = n % shapes;
    if k < fakes::STRUCTURED.len() {
        let f = fakes::token(rng, fakes::STRUCTURED[k]);
        blocks::structured(w, rng, &f);
        return;
    }
    let decoy = || Some(Rng::new(n as u64).pick(decoys::DECOYS));
    match k - fakes::STRUCTURED.len() {
        0 => blocks::aws_pair(w, rng),
        1 => blocks::private_key(w, rng),
        2 => blocks::azure_connection(w, rng),
        3 => blocks::password_table(w, rng, None),
        4 => blocks::password_prose(w, rng, None),
        5 => blocks::password_code(w, rng, None),
        6 => blocks::connection(w, rng, None),
        7 => blocks::generic(w, rng),
        8 => blocks::password_table(w, rng, decoy()),
        9 => blocks::password_prose(w, rng, decoy()),
        10 => blocks::password_code(w, rng, decoy()),
        11 => blocks::connection(w, rng, decoy()),
        _ => decoys::documented_examples(w, rng),
    }
}

/// Fills in each label's file, character offsets and line.
fn finish(file: String, w: PageWriter) -> GeneratedPage {
    let PageWriter { out, mut labels } = w;
    for l in &mut labels {
        l.file.clone_from(&file);
        let before = &out[..l.byte_offset];
        l.char_offset = before.chars().count();
        l.char_length = out[l.byte_range()].chars().count();
        l.line = 1 + before.bytes().filter(|&b| b == b'\n').count();
    }
    GeneratedPage {
        file,
        storage: out,
        labels,
    }
}

/// Writes the pages and `labels.jsonl` into `dir` (created if missing).
pub fn write(dir: &std::path::Path, pages: &[GeneratedPage]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut labels = String::new();
    for p in pages {
        std::fs::write(dir.join(&p.file), &p.storage)?;
        for l in &p.labels {
            labels.push_str(&serde_json::to_string(l).map_err(std::io::Error::other)?);
            labels.push('\n');
        }
    }
    std::fs::write(dir.join("labels.jsonl"), labels)
}
