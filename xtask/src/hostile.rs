//! `cargo xtask hostile`: the table of the last hostile-suite run, from the rows its classes
//! wrote under `target/hostile/` (one JSON object per class), in the form SECURITY.md shows.
//! Fails when a row counts anything but attempts, or when there are no rows to show.

use crate::target_dir;

const COUNTS: [&str; 5] = ["attempts", "accepted", "crashed", "leaked", "hung"];

pub fn summary() -> Result<(), String> {
    let dir = target_dir().join("hostile");
    let entries = std::fs::read_dir(&dir).map_err(|e| {
        format!(
            "no hostile-suite results in {} ({e}); run `cargo xtask test -E 'binary(hostile)'` first",
            dir.display()
        )
    })?;
    let mut rows: Vec<Row> = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            rows.push(Row::read(&text).ok_or_else(|| {
                format!(
                    "{} is not a result row; run the suite again",
                    path.display()
                )
            })?);
        }
    }
    if rows.is_empty() {
        return Err(format!(
            "{} holds no result rows; run the suite first",
            dir.display()
        ));
    }
    rows.sort_by(|a, b| a.class.cmp(&b.class));
    println!("| class | {} |", COUNTS.join(" | "));
    println!("|---|{}", "---:|".repeat(COUNTS.len()));
    let mut totals = [0u64; COUNTS.len()];
    for row in &rows {
        let counts = &row.counts;
        for (total, count) in totals.iter_mut().zip(counts) {
            *total += count;
        }
        let cells: Vec<String> = counts.iter().map(u64::to_string).collect();
        println!("| {} | {} |", row.class, cells.join(" | "));
    }
    let cells: Vec<String> = totals.iter().map(u64::to_string).collect();
    println!("| **total** | {} |", cells.join(" | "));
    if totals[1..].iter().any(|&n| n > 0) {
        return Err(
            "the hostile suite counted an accepted, crashed, leaked or hung attempt".into(),
        );
    }
    Ok(())
}

/// One class's row.
struct Row {
    class: String,
    counts: [u64; COUNTS.len()],
}

impl Row {
    fn read(text: &str) -> Option<Row> {
        let value: serde_json::Value = serde_json::from_str(text).ok()?;
        let mut counts = [0; COUNTS.len()];
        for (count, key) in counts.iter_mut().zip(COUNTS) {
            *count = value[key].as_u64()?;
        }
        Some(Row {
            class: value["class"].as_str()?.to_string(),
            counts,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Row;

    #[test]
    fn a_row_the_suite_writes_is_read() {
        let row = Row::read(
            r#"{"accepted":0,"attempts":241,"class":"forged_callbacks","crashed":0,"hung":1,"leaked":0,"seconds":5.3}"#,
        )
        .expect("a row");
        assert_eq!(row.class, "forged_callbacks");
        assert_eq!(row.counts, [241, 0, 0, 0, 1]);
        assert!(Row::read(r#"{"class":"x"}"#).is_none());
    }
}
