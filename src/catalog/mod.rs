//! Catalog imports: CSV or the CommerceML 2 XML that 1C exports, upserted into
//! products by an exclusive `catalog_import` job.

pub mod commerceml;
pub mod csv_file;
pub mod import;
pub mod routes;

/// One product read from a catalog file. `problems` are reported as a failed
/// item while the product is still imported with what could be read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CatalogRow {
    pub sku: String,
    pub external_id: Option<String>,
    pub name: String,
    pub category: Option<String>,
    pub price: Option<f64>,
    pub currency: Option<String>,
    pub stock: Option<i64>,
    pub problems: Vec<String>,
}

/// A row that cannot be imported at all, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct RowFailure {
    pub item: String,
    pub reason: String,
}

/// Every row of a file, in order: importable or not.
pub type ParsedCatalog = Vec<Result<CatalogRow, RowFailure>>;

/// A price cell: empty is no price; anything else must read as a non-negative number.
fn parse_price_cell(text: &str, problems: &mut Vec<String>) -> Option<f64> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    match text.replace(',', ".").parse::<f64>() {
        Ok(price) if price >= 0.0 && price.is_finite() => Some(price),
        _ => {
            problems.push(format!("unparsable price {text:?}"));
            None
        }
    }
}

/// A stock cell: empty is unknown; anything else must be a whole number.
fn parse_stock_cell(text: &str, problems: &mut Vec<String>) -> Option<i64> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    match text.parse::<f64>() {
        Ok(stock) if stock >= 0.0 && stock.fract() == 0.0 => Some(stock as i64),
        _ => {
            problems.push(format!("unparsable stock {text:?}"));
            None
        }
    }
}
