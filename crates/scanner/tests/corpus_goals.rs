//! The recall and precision goals, measured on the generated corpus: recall >= 98% on
//! structured tokens, >= 80% on Confluence-style passwords, no finding on any decoy. The
//! per-kind table and the precision are printed (`cargo test -- --nocapture`) for
//! BENCHMARKS.md.

use arkbridge_scanner::corpus::{self, Class, Hit};
use arkbridge_scanner::{FingerprintKey, PageMeta, Scanner};

#[test]
fn corpus_recall_precision_and_decoys_meet_the_goals() {
    let mut pages = corpus::generate(300, 7);
    pages.extend(corpus::generate(300, 11).into_iter().map(|mut p| {
        // Two seeds, one namespace of file names.
        p.file = format!("b-{}", p.file);
        for l in &mut p.labels {
            l.file.clone_from(&p.file);
        }
        p
    }));
    let scanner = Scanner::new(FingerprintKey::new(&secrecy::SecretSlice::from(
        b"corpus-test-key".to_vec(),
    )));
    let mut hits = Vec::new();
    let mut labels = Vec::new();
    let mut unlabelled = std::collections::BTreeMap::<String, usize>::new();
    for p in &pages {
        let meta = PageMeta {
            path: Some(p.file.clone()),
            ..PageMeta::default()
        };
        let scan = scanner.scan(meta, &p.storage);
        assert!(scan.well_formed, "{} is not well-formed", p.file);
        for f in &scan.findings {
            let range = f.location.byte_offset..f.location.byte_offset + f.location.byte_length;
            let on: Vec<_> = p
                .labels
                .iter()
                .filter(|l| {
                    l.byte_offset < range.end && range.start < l.byte_offset + l.byte_length
                })
                .collect();
            if on.is_empty() {
                *unlabelled.entry(f.detector.clone()).or_default() += 1;
            }
            for l in on.iter().filter(|l| l.class == Class::Decoy) {
                println!(
                    "decoy {} hit by {} in {}: {}",
                    l.kind,
                    f.detector,
                    p.file,
                    &p.storage[range.clone()]
                );
            }
            hits.push(Hit {
                file: p.file.clone(),
                range,
            });
        }
        labels.extend(p.labels.iter().cloned());
    }
    let score = corpus::score(&labels, &hits);
    println!("{score}");
    println!("unlabelled findings by detector: {unlabelled:?}");
    for m in score.missed.iter().take(20) {
        let page = pages
            .iter()
            .find(|p| p.file == m.file)
            .map(|p| p.storage.as_str())
            .unwrap_or("");
        let ctx = page
            .get(
                m.byte_offset.saturating_sub(80)
                    ..(m.byte_offset + m.byte_length + 20).min(page.len()),
            )
            .unwrap_or("");
        println!(
            "missed {} in {} at {}: {ctx:?}",
            m.kind, m.file, m.byte_offset
        );
    }
    let planted = |c: Class| score.by_class.get(&c).map_or(0, |t| t.planted);
    assert!(planted(Class::Structured) > 100 && planted(Class::Confluence) > 50);
    assert!(planted(Class::Decoy) > 30);
    assert!(
        score.recall(Class::Structured) >= 0.98,
        "structured recall {}",
        score.recall(Class::Structured)
    );
    assert!(
        score.recall(Class::Confluence) >= 0.80,
        "Confluence-style recall {}",
        score.recall(Class::Confluence)
    );
    assert_eq!(
        score.by_class[&Class::Decoy].found,
        0,
        "decoys were reported"
    );
    assert_eq!(score.decoy_findings, 0);
}
