//! What every list endpoint shares: the page size rule, comma-separated status
//! filters, paging newest-first by an id cursor (`before` / `next_before`), and
//! searching a lower-cased `search_key` column.

use sea_orm::{ActiveEnum, Iterable, sea_query::LikeExpr};

use crate::error::{AppError, Result};

const DEFAULT_LIMIT: u64 = 50;
const MAX_LIMIT: u64 = 200;

/// The requested page size (default 50), or 400 outside 1–200.
pub fn page_size(limit: Option<u64>) -> Result<u64> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if (1..=MAX_LIMIT).contains(&limit) {
        Ok(limit)
    } else {
        Err(AppError::field("limit", &format!("must be between 1 and {MAX_LIMIT}")))
    }
}

/// A `LIKE` pattern matching a lower-cased key that contains `search` anywhere,
/// ignoring case; `%`, `_` and `\` in the search are matched literally.
pub fn contains_ignoring_case(search: &str) -> LikeExpr {
    let escaped: String = search
        .to_lowercase()
        .chars()
        .flat_map(|c| if matches!(c, '\\' | '%' | '_') { vec!['\\', c] } else { vec![c] })
        .collect();
    LikeExpr::new(format!("%{escaped}%")).escape('\\')
}

/// Parses `status=a,b`; `None` when absent or empty; an unknown value is 400 naming the allowed ones.
pub fn status_filter<T>(text: Option<&str>) -> Result<Option<Vec<T>>>
where
    T: ActiveEnum<Value = String> + Iterable,
{
    let Some(text) = text.filter(|t| !t.trim().is_empty()) else { return Ok(None) };
    let names: Vec<String> = T::iter().map(|status| status.to_value()).collect();
    text.split(',')
        .map(|part| T::try_from_value(&part.trim().to_owned()).ok())
        .collect::<Option<Vec<_>>>()
        .map(Some)
        .ok_or_else(|| {
            AppError::field("status", &format!("must be one of {} (comma-separated for several)", names.join(", ")))
        })
}

/// Rows are fetched one more than the page size; the extra one only tells that
/// another page follows, whose cursor is the last kept row's id.
pub fn split_page<T>(mut rows: Vec<T>, limit: u64, id: impl Fn(&T) -> i64) -> (Vec<T>, Option<i64>) {
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let next_before = if more { rows.last().map(id) } else { None };
    (rows, next_before)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes() {
        assert_eq!(page_size(None).unwrap(), 50);
        assert_eq!(page_size(Some(200)).unwrap(), 200);
        assert!(page_size(Some(0)).is_err() && page_size(Some(201)).is_err());
    }

    #[test]
    fn status_lists() {
        use crate::entity::subtask::SubtaskStatus;
        assert_eq!(status_filter(Some("open, done")).unwrap(), Some(vec![SubtaskStatus::Open, SubtaskStatus::Done]));
        assert_eq!(status_filter::<SubtaskStatus>(Some("")).unwrap(), None);
        let err = status_filter::<SubtaskStatus>(Some("open,lost")).unwrap_err();
        assert!(err.to_string().contains("open, done"));
    }

    #[test]
    fn the_extra_row_becomes_the_cursor() {
        assert_eq!(split_page(vec![9, 8, 7], 2, |n| *n), (vec![9, 8], Some(8)));
        assert_eq!(split_page(vec![9, 8], 2, |n| *n), (vec![9, 8], None));
    }
}
