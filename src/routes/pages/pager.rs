//! Pages of the lists on a web page (a group's subgroups and members, the admin's users and
//! groups): a page number from `?page=N`, the window the database cuts, and the links.

use crate::registry::directory;

/// Rows of a list on a group or settings page: members and subgroups may number thousands,
/// so a page shows this many of each, with links to the next and previous pages.
pub const PAGE_ROWS: usize = 100;

/// A page number (from 1) of the lists on a place's page, and its neighbours.
#[derive(Debug, Clone, Copy)]
pub struct Pager {
    pub number: usize,
    pub prev: Option<usize>,
    pub next: Option<usize>,
}

impl Pager {
    pub fn new(number: Option<usize>) -> Pager {
        Pager {
            number: number.unwrap_or(1).max(1),
            prev: None,
            next: None,
        }
    }

    pub fn window(self) -> directory::Window {
        directory::Window {
            limit: PAGE_ROWS,
            offset: (self.number - 1).saturating_mul(PAGE_ROWS),
        }
    }

    /// The links, once the totals of the lists this page shows are known.
    pub fn with_totals(mut self, totals: &[usize]) -> Pager {
        let shown = self.window().offset + PAGE_ROWS;
        self.prev = (self.number > 1).then(|| self.number - 1);
        self.next = totals.iter().any(|t| *t > shown).then(|| self.number + 1);
        self
    }
}
