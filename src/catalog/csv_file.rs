//! CSV catalogs with the header `sku,name,category,price,currency,stock` (any order; sku and name required).

use super::{CatalogRow, ParsedCatalog, RowFailure, parse_price_cell, parse_stock_cell};

/// Parses a whole CSV catalog; a missing header column fails the file, a bad row fails only itself.
pub fn parse_csv(text: &str) -> Result<ParsedCatalog, String> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| format!("cannot read the CSV header: {e}"))?.clone();
    let column = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (Some(sku_at), Some(name_at)) = (column("sku"), column("name")) else {
        return Err("the CSV header must name at least the columns sku and name".into());
    };
    let (category_at, price_at, currency_at, stock_at) =
        (column("category"), column("price"), column("currency"), column("stock"));
    let mut rows = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let line = index + 2;
        let record = match record {
            Ok(record) => record,
            Err(err) => {
                rows.push(Err(RowFailure { item: format!("line {line}"), reason: format!("malformed row: {err}") }));
                continue;
            }
        };
        // Catalog cells are single-line: one that spans lines is an unclosed quote
        // that swallowed the rows after it.
        if record.iter().any(|cell| cell.contains(['\n', '\r'])) {
            let reason = "a quoted cell runs over several lines (an unclosed quote?)";
            rows.push(Err(RowFailure { item: format!("line {line}"), reason: reason.into() }));
            continue;
        }
        let cell = |at: Option<usize>| at.and_then(|i| record.get(i)).unwrap_or("").to_owned();
        let sku = cell(Some(sku_at));
        let name = cell(Some(name_at));
        let item = if sku.is_empty() { format!("line {line}") } else { format!("{sku} (line {line})") };
        if sku.is_empty() {
            rows.push(Err(RowFailure { item, reason: "no sku".into() }));
            continue;
        }
        if name.is_empty() {
            rows.push(Err(RowFailure { item, reason: "no name".into() }));
            continue;
        }
        let mut problems = Vec::new();
        let price = parse_price_cell(&cell(price_at), &mut problems);
        let stock = parse_stock_cell(&cell(stock_at), &mut problems);
        let optional = |text: String| Some(text).filter(|t| !t.is_empty());
        rows.push(Ok(CatalogRow {
            sku,
            external_id: None,
            name,
            category: optional(cell(category_at)),
            price,
            currency: optional(cell(currency_at)),
            stock,
            problems,
        }));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_fixture_with_its_two_bad_rows() {
        let rows = parse_csv(include_str!("../../tests/fixtures/catalog/catalog.csv")).unwrap();
        assert_eq!(rows.len(), 13);
        let good: Vec<_> = rows.iter().filter_map(|r| r.as_ref().ok()).filter(|r| r.problems.is_empty()).collect();
        assert_eq!(good.len(), 11);
        assert_eq!(good[0].sku, "SP-0001");
        assert_eq!(good[0].name, "Мяч футбольный Pro");
        assert_eq!(good[0].price, Some(7490.0));
        assert_eq!(good[0].stock, Some(0));
        let no_name = rows.iter().find_map(|r| r.as_ref().err()).unwrap();
        assert_eq!(no_name.reason, "no name");
        let bad_price = rows.iter().filter_map(|r| r.as_ref().ok()).find(|r| !r.problems.is_empty()).unwrap();
        assert_eq!(bad_price.sku, "SP-BAD3");
        assert_eq!(bad_price.price, None);
        assert!(bad_price.problems[0].contains("abc"));
    }

    #[test]
    fn a_file_without_the_required_columns_is_refused() {
        assert!(parse_csv("id,title\n1,x\n").is_err());
    }

    #[test]
    fn a_broken_row_fails_alone() {
        let rows = parse_csv("sku,name,price\nA-1,\"Ball, red,10\nA-2,Net,5\n").unwrap();
        assert!(rows.iter().any(|r| r.is_err()), "{rows:?}");
        let good = parse_csv("sku,name,price\nA-1,Ball,1,extra,cells\nA-2,Net,5\n").unwrap();
        assert_eq!(good.iter().filter(|r| r.is_ok()).count(), 2, "extra cells are ignored");
    }

    #[test]
    fn short_rows_and_quoted_commas() {
        let rows = parse_csv("sku,name,price\nA-1,\"Ball, red\",10\nA-2\n").unwrap();
        assert_eq!(rows[0].as_ref().unwrap().name, "Ball, red");
        assert_eq!(rows[1].as_ref().unwrap_err().reason, "no name");
    }
}
