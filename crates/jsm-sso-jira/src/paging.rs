//! [`Pager`]: a listing fetched page by page as it is read, as a `futures` `Stream` or
//! with [`Pager::next`].
//!
//! - servicedeskapi: `start`/`limit`, ends at `isLastPage: true` (or an empty page, so a
//!   misbehaving server cannot loop it forever); the next `start` counts the values
//!   actually returned, since Jira may cap `limit` below what was asked.
//! - platform user search: `startAt`/`maxResults` over a bare array. Jira filters results
//!   after paging, so a short page is not the end: the pager stops at an empty page or at
//!   the search's 1,000-result window, and then reports [`Pager::truncated`].

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use serde::de::DeserializeOwned;

use crate::client::{Call, JiraClient, decode};
use crate::error::Error;
use crate::model::SdPage;

/// How far Jira's user search pages: `startAt + maxResults` may not pass it.
pub const USER_SEARCH_WINDOW: u32 = 1_000;

#[derive(Debug, Clone, Copy)]
pub(crate) enum Style {
    /// `start`/`limit`/`isLastPage`.
    ServiceDesk { limit: u32 },
    /// `startAt`/`maxResults` over a bare array, within [`USER_SEARCH_WINDOW`].
    UserSearch { max_results: u32 },
}

type PageFuture<T> = Pin<Box<dyn Future<Output = Result<(Vec<T>, Next), Error>> + Send>>;

#[derive(Debug, Clone, Copy)]
enum Next {
    At(u32),
    End,
    Truncated,
}

/// A paged listing. Pages are fetched only as items are read.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use jsm_sso_jira::memory::MemoryJsm;
///
/// let jsm = MemoryJsm::new();
/// for n in 0..120 {
///     jsm.add_organization(&format!("Org {n}"));
/// }
/// let client = jsm.client();
/// let mut pages = client.organizations();
/// let mut count = 0;
/// while let Some(organization) = pages.next().await {
///     organization?;
///     count += 1;
/// }
/// assert_eq!(count, 120); // three pages of 50
/// # Ok::<(), jsm_sso_jira::Error>(()) }).unwrap();
/// ```
pub struct Pager<T> {
    client: JiraClient,
    call: Call,
    style: Style,
    next: Next,
    buffer: VecDeque<T>,
    in_flight: Option<PageFuture<T>>,
    truncated: bool,
    failed: bool,
}

impl<T> fmt::Debug for Pager<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pager")
            .field("operation", &self.call.operation)
            .field("next", &self.next)
            .field("buffered", &self.buffer.len())
            .field("truncated", &self.truncated)
            .finish_non_exhaustive()
    }
}

impl<T: DeserializeOwned + Send + 'static> Pager<T> {
    pub(crate) fn new(client: JiraClient, call: Call, style: Style) -> Self {
        Self {
            client,
            call,
            style,
            next: Next::At(0),
            buffer: VecDeque::new(),
            in_flight: None,
            truncated: false,
            failed: false,
        }
    }

    /// The next item, fetching the next page when needed; `None` at the end (and after an
    /// error was returned).
    pub async fn next(&mut self) -> Option<Result<T, Error>> {
        std::future::poll_fn(|cx| self.poll_item(cx)).await
    }

    /// Reads every remaining item.
    ///
    /// # Errors
    ///
    /// The first error a page fetch returned.
    pub async fn try_collect(mut self) -> Result<Vec<T>, Error> {
        let mut all = Vec::new();
        while let Some(item) = self.next().await {
            all.push(item?);
        }
        Ok(all)
    }

    /// Whether the listing stopped at the user search's 1,000-result window with more
    /// results possibly beyond it (narrow the query to see them).
    #[must_use]
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    fn fetch(&self, start: u32) -> PageFuture<T> {
        let client = self.client.clone();
        let mut call = self.call.clone();
        let style = self.style;
        Box::pin(async move {
            match style {
                Style::ServiceDesk { limit } => {
                    call = call
                        .query("start", start.to_string())
                        .query("limit", limit.to_string());
                    let response = client.execute(&call).await?;
                    let page: SdPage<T> = decode(call.operation, response.body())?;
                    let got = u32::try_from(page.values.len()).unwrap_or(u32::MAX);
                    let next = if page.is_last_page.unwrap_or(true) || got == 0 {
                        Next::End
                    } else {
                        Next::At(start.saturating_add(got))
                    };
                    Ok((page.values, next))
                }
                Style::UserSearch { max_results } => {
                    let max = max_results.min(USER_SEARCH_WINDOW.saturating_sub(start));
                    call = call
                        .query("startAt", start.to_string())
                        .query("maxResults", max.to_string());
                    let response = client.execute(&call).await?;
                    let values: Vec<T> = decode(call.operation, response.body())?;
                    let got = u32::try_from(values.len()).unwrap_or(u32::MAX);
                    let after = start.saturating_add(max);
                    let next = if got == 0 {
                        Next::End
                    } else if after >= USER_SEARCH_WINDOW {
                        Next::Truncated
                    } else {
                        Next::At(after)
                    };
                    Ok((values, next))
                }
            }
        })
    }

    fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, Error>>> {
        loop {
            if let Some(item) = self.buffer.pop_front() {
                return Poll::Ready(Some(Ok(item)));
            }
            if self.failed {
                return Poll::Ready(None);
            }
            if self.in_flight.is_none() {
                match self.next {
                    Next::At(start) => self.in_flight = Some(self.fetch(start)),
                    Next::End | Next::Truncated => return Poll::Ready(None),
                }
            }
            let Some(fut) = self.in_flight.as_mut() else {
                return Poll::Ready(None);
            };
            let result = match fut.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(r) => r,
            };
            self.in_flight = None;
            match result {
                Ok((values, next)) => {
                    self.buffer.extend(values);
                    self.truncated = matches!(next, Next::Truncated);
                    self.next = next;
                }
                Err(e) => {
                    self.failed = true;
                    return Poll::Ready(Some(Err(e)));
                }
            }
        }
    }
}

impl<T: DeserializeOwned + Send + Unpin + 'static> Stream for Pager<T> {
    type Item = Result<T, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        // Pager holds only Unpin parts (the in-flight page is boxed).
        self.get_mut().poll_item(cx)
    }
}
