//! Offset pagination of lists.

use serde::{Deserialize, Serialize};

/// Rows per page when the client names no limit.
pub const DEFAULT_PAGE_LIMIT: u32 = 50;

/// Maximum rows per page. Bounds the memory and time of one list request;
/// clients page through longer lists.
pub const MAX_PAGE_LIMIT: u32 = 200;

/// A window of a list: at most `limit` rows after skipping `offset`.
/// A `limit` of 0 or above [`MAX_PAGE_LIMIT`] is clamped into `1..=MAX_PAGE_LIMIT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    pub limit: u32,
    pub offset: u64,
}

impl Default for Page {
    fn default() -> Self {
        Page {
            limit: DEFAULT_PAGE_LIMIT,
            offset: 0,
        }
    }
}

impl Page {
    /// Creates a page from optional query values, using the defaults for
    /// missing ones and clamping the limit.
    pub fn new(limit: Option<u32>, offset: Option<u64>) -> Page {
        Page {
            limit: limit.unwrap_or(DEFAULT_PAGE_LIMIT).clamp(1, MAX_PAGE_LIMIT),
            offset: offset.unwrap_or(0),
        }
    }

    /// Returns the limit clamped into `1..=MAX_PAGE_LIMIT`.
    pub fn effective_limit(self) -> u32 {
        self.limit.clamp(1, MAX_PAGE_LIMIT)
    }

    /// Returns the SQL `LIMIT` to query: one row more than the page, so the
    /// caller learns whether another page follows.
    pub(super) fn query_limit(self) -> i64 {
        i64::from(self.effective_limit()) + 1
    }

    /// Returns the SQL `OFFSET`.
    pub(super) fn query_offset(self) -> i64 {
        i64::try_from(self.offset).unwrap_or(i64::MAX)
    }

    /// Cuts `rows` (queried with [`Page::query_limit`]) to the page and
    /// computes the offset of the next page.
    pub(super) fn finish<T>(self, mut rows: Vec<T>) -> Paged<T> {
        let limit = self.effective_limit() as usize;
        let next_offset = if rows.len() > limit {
            rows.truncate(limit);
            Some(self.offset.saturating_add(limit as u64))
        } else {
            None
        };
        Paged {
            items: rows,
            next_offset,
        }
    }
}

/// One page of a list and the offset of the next page, if there is one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub next_offset: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_clamps_limit() {
        assert_eq!(Page::new(Some(10_000), None).limit, MAX_PAGE_LIMIT);
        assert_eq!(Page::new(Some(0), None).limit, 1);
        assert_eq!(Page::new(None, None).limit, DEFAULT_PAGE_LIMIT);
    }

    #[test]
    fn finish_reports_next_offset() {
        let page = Page {
            limit: 2,
            offset: 4,
        };
        let paged = page.finish(vec![1, 2, 3]);
        assert_eq!(paged.items, vec![1, 2]);
        assert_eq!(paged.next_offset, Some(6));
    }

    #[test]
    fn finish_last_page() {
        let paged = Page::default().finish(vec![1, 2]);
        assert_eq!(paged.next_offset, None);
    }
}
