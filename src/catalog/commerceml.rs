//! CommerceML 2 as 1C exports it: groups and goods in `import.xml`, prices and
//! stock in `offers.xml`, joined by the goods' `Ид`.

use std::collections::HashMap;

use quick_xml::{Reader, events::Event};

use super::{CatalogRow, ParsedCatalog, RowFailure, parse_price_cell, parse_stock_cell};

/// A parsed XML element: its local name, text and children.
#[derive(Debug, Default)]
struct Node {
    name: String,
    text: String,
    children: Vec<Node>,
    /// False for an element the document broke off inside.
    complete: bool,
}

impl Node {
    fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    fn children<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The trimmed text of a child, if present and not empty.
    fn text_of(&self, name: &str) -> Option<String> {
        self.child(name).map(|c| c.text.trim().to_owned()).filter(|t| !t.is_empty())
    }

    /// Follows a path of child names.
    fn at(&self, path: &[&str]) -> Option<&Node> {
        path.iter().try_fold(self, |node, name| node.child(name))
    }
}

/// Reads a document into a tree. A malformed document yields what was read
/// before the break (open elements marked incomplete) and the error saying where.
fn parse_tree(xml: &str, file: &str) -> (Option<Node>, Option<String>) {
    let mut reader = Reader::from_str(xml);
    let mut stack = vec![Node::default()];
    let mut error = None;
    loop {
        let position = reader.buffer_position();
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(e) => {
                error = Some(format!("{file} is not well-formed XML (at byte {position}): {e}"));
                break;
            }
        };
        match event {
            Event::Start(start) => {
                let name = AsRef::<str>::as_ref(&start.local_name()).to_owned();
                stack.push(Node { name, ..Default::default() });
            }
            Event::Empty(start) => {
                let name = AsRef::<str>::as_ref(&start.local_name()).to_owned();
                if let Some(parent) = stack.last_mut() {
                    parent.children.push(Node { name, complete: true, ..Default::default() });
                }
            }
            Event::End(_) => {
                if stack.len() < 2 {
                    error =
                        Some(format!("{file} is not well-formed XML (at byte {position}): an unexpected closing tag"));
                    break;
                }
                let mut node = stack.pop().expect("checked above");
                node.complete = true;
                stack.last_mut().expect("checked above").children.push(node);
            }
            Event::Text(text) => {
                if let Some(node) = stack.last_mut() {
                    node.text.push_str(text.as_ref());
                }
            }
            Event::CData(data) => {
                if let Some(node) = stack.last_mut() {
                    node.text.push_str(&data.into_inner());
                }
            }
            Event::GeneralRef(reference) => {
                if let Some(node) = stack.last_mut() {
                    let resolved = match reference.resolve_char_ref() {
                        Ok(Some(c)) => Some(c.to_string()),
                        _ => match reference.as_ref() {
                            "amp" => Some("&".into()),
                            "lt" => Some("<".into()),
                            "gt" => Some(">".into()),
                            "quot" => Some("\"".into()),
                            "apos" => Some("'".into()),
                            _ => None,
                        },
                    };
                    node.text.push_str(&resolved.unwrap_or_default());
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if stack.len() > 1 && error.is_none() {
        error =
            Some(format!("{file} is not well-formed XML: it ends inside <{}>", stack.last().map_or("", |n| &n.name)));
    }
    // Close whatever was left open, marked incomplete.
    while stack.len() > 1 {
        let node = stack.pop().expect("more than one");
        stack.last_mut().expect("at least one").children.push(node);
    }
    let root = stack.pop().and_then(|document| document.children.into_iter().next());
    (root, error)
}

/// Group id → name, through nested groups.
fn collect_groups(node: &Node, into: &mut HashMap<String, String>) {
    for group in node.children("Группа") {
        if let (Some(id), Some(name)) = (group.text_of("Ид"), group.text_of("Наименование")) {
            into.insert(id, name);
        }
        if let Some(nested) = group.child("Группы") {
            collect_groups(nested, into);
        }
    }
}

/// An offer: price, currency and quantity of one good.
struct Offer {
    price: Option<String>,
    currency: Option<String>,
    quantity: Option<String>,
}

/// Parses `import.xml` (and `offers.xml`, when given) into catalog rows. A
/// malformed file keeps what was read before the break: the break and any good
/// it cut off count as failed items. Only a file with no goods section fails whole.
pub fn parse_commerceml(import_xml: &str, offers_xml: Option<&str>) -> Result<ParsedCatalog, String> {
    let (import, import_error) = parse_tree(import_xml, "import.xml");
    let broken = |what: &str| import_error.clone().unwrap_or_else(|| what.to_owned());
    let import = import.ok_or_else(|| broken("import.xml is empty"))?;
    let mut groups = HashMap::new();
    if let Some(root_groups) = import.at(&["Классификатор", "Группы"]) {
        collect_groups(root_groups, &mut groups);
    }
    let goods = import.at(&["Каталог", "Товары"]).ok_or_else(|| broken("import.xml has no Каталог/Товары section"))?;
    let mut failures = Vec::new();
    if let Some(error) = &import_error {
        failures.push(RowFailure { item: "import.xml".into(), reason: error.clone() });
    }
    let mut offers: HashMap<String, Offer> = HashMap::new();
    if let Some(offers_xml) = offers_xml {
        let (tree, offers_error) = parse_tree(offers_xml, "offers.xml");
        if let Some(error) = offers_error {
            failures.push(RowFailure { item: "offers.xml".into(), reason: error });
        }
        if let Some(list) = tree.as_ref().and_then(|t| t.at(&["ПакетПредложений", "Предложения"]))
        {
            for offer in list.children("Предложение").filter(|o| o.complete) {
                let Some(id) = offer.text_of("Ид") else { continue };
                let price = offer.at(&["Цены", "Цена"]);
                offers.insert(
                    id,
                    Offer {
                        price: price.and_then(|p| p.text_of("ЦенаЗаЕдиницу")),
                        currency: price.and_then(|p| p.text_of("Валюта")),
                        quantity: offer.text_of("Количество"),
                    },
                );
            }
        }
    }
    let mut rows = Vec::new();
    for good in goods.children("Товар") {
        let external_id = good.text_of("Ид");
        let sku = good.text_of("Артикул").or_else(|| external_id.clone());
        let label = sku.clone().or_else(|| external_id.clone()).unwrap_or_else(|| "a good without Ид".into());
        if !good.complete {
            rows.push(Err(RowFailure { item: label, reason: "cut off where import.xml breaks".into() }));
            continue;
        }
        let Some(sku) = sku else {
            rows.push(Err(RowFailure { item: label, reason: "no Ид or Артикул".into() }));
            continue;
        };
        let Some(name) = good.text_of("Наименование") else {
            rows.push(Err(RowFailure { item: label, reason: "no Наименование (name)".into() }));
            continue;
        };
        let category = good.child("Группы").and_then(|g| g.text_of("Ид")).and_then(|id| groups.get(&id).cloned());
        let mut problems = Vec::new();
        let offer = external_id.as_ref().and_then(|id| offers.get(id));
        let price = offer.and_then(|o| o.price.as_deref()).and_then(|p| parse_price_cell(p, &mut problems));
        let stock = offer.and_then(|o| o.quantity.as_deref()).and_then(|q| parse_stock_cell(q, &mut problems));
        rows.push(Ok(CatalogRow {
            sku,
            external_id,
            name,
            category,
            price,
            currency: offer.and_then(|o| o.currency.clone()),
            stock,
            problems,
        }));
    }
    rows.extend(failures.into_iter().map(Err));
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    const IMPORT: &str = include_str!("../../tests/fixtures/catalog/import.xml");
    const OFFERS: &str = include_str!("../../tests/fixtures/catalog/offers.xml");

    #[test]
    fn reads_the_fixture_exchange() {
        let rows = parse_commerceml(IMPORT, Some(OFFERS)).unwrap();
        assert_eq!(rows.len(), 12);
        let failures: Vec<_> = rows.iter().filter_map(|r| r.as_ref().err()).collect();
        assert_eq!(failures.len(), 1, "one good has no name");
        let imported: Vec<_> = rows.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(imported.len(), 11);
        let with_problems: Vec<_> = imported.iter().filter(|r| !r.problems.is_empty()).collect();
        assert_eq!(with_problems.len(), 1, "one offer has an unparsable price");
        assert_eq!(with_problems[0].price, None);
        let ball = imported.iter().find(|r| r.sku == "SP-0001").unwrap();
        assert_eq!(ball.name, "Мяч футбольный Pro");
        assert_eq!(ball.category.as_deref(), Some("Футбол"));
        assert_eq!(ball.price, Some(4390.0));
        assert_eq!(ball.currency.as_deref(), Some("RUB"));
        assert_eq!(ball.stock, Some(3));
        assert_eq!(ball.external_id.as_deref(), Some("prod-0001"));
        assert_eq!(imported.iter().filter(|r| r.price.is_some() && r.stock.is_some()).count(), 10);
    }

    #[test]
    fn a_document_without_goods_fails_whole_and_names_its_file() {
        let err = parse_commerceml("<КоммерческаяИнформация><Каталог>", None).unwrap_err();
        assert!(err.contains("import.xml"), "{err}");
    }

    #[test]
    fn a_truncated_file_keeps_the_goods_before_the_break() {
        let cut = IMPORT.find("<Ид>prod-0004</Ид>").unwrap();
        let rows = parse_commerceml(&IMPORT[..cut], Some(OFFERS)).unwrap();
        let imported: Vec<_> = rows.iter().filter_map(|r| r.as_ref().ok()).map(|r| r.sku.as_str()).collect();
        assert_eq!(imported, ["SP-0001", "SP-0002", "SP-0003"]);
        let failures: Vec<_> = rows.iter().filter_map(|r| r.as_ref().err()).collect();
        assert_eq!(failures.len(), 2, "the cut-off good and the break itself: {failures:?}");
        assert!(failures.iter().any(|f| f.item == "import.xml" && f.reason.contains("import.xml")));
    }

    #[test]
    fn broken_offers_count_as_a_failure_and_leave_goods_without_prices() {
        let rows = parse_commerceml(IMPORT, Some("<a><b></a>")).unwrap();
        let failures: Vec<_> = rows.iter().filter_map(|r| r.as_ref().err()).collect();
        assert!(failures.iter().any(|f| f.item == "offers.xml"), "{failures:?}");
        assert!(rows.iter().filter_map(|r| r.as_ref().ok()).all(|r| r.price.is_none()));
    }

    #[test]
    fn goods_without_offers_have_no_price() {
        let rows = parse_commerceml(IMPORT, None).unwrap();
        assert!(rows.iter().filter_map(|r| r.as_ref().ok()).all(|r| r.price.is_none()));
    }
}
