//! Answering batches and reading answers: the rows reached here are
//! borrowed from a [`Ticket`] or an [`AnswerMsg`], never longer.

use blob_core::{MAX_PLAYERS, NUM_ACTIONS};

use super::sync::Ordering;
use super::{Answer, AnswerMsg, Buffer, LeafQueue, Ticket};
use crate::error::{SearchError, SearchResult};
use crate::evaluator::LeafBatch;

impl LeafQueue {
    fn check_ticket(&self, ticket: &Ticket) -> SearchResult<()> {
        if ticket.queue != self.id || ticket.answered {
            return Err(SearchError::UnknownTicket(ticket.id()));
        }
        Ok(())
    }

    /// Read access to the rows of a handed-out batch: observations (rows x
    /// 256), masks (rows x 66), states and observers. The borrow is tied to
    /// the ticket, which answering needs mutably.
    pub fn batch_inputs<'a>(&'a self, ticket: &'a Ticket) -> SearchResult<LeafBatch<'a>> {
        self.check_ticket(ticket)?;
        let b = self.buffer(ticket.generation);
        // SAFETY: the rows of an unanswered part are published and written
        // by nobody until it is answered, which needs `ticket` mutably.
        Ok(unsafe { b.rows.inputs(ticket.start as usize, ticket.rows()) })
    }

    /// Raw pointers to a handed-out batch's observation rows (`rows x 256`
    /// f32) and mask rows (`rows x 66` bool), for zero-copy views from
    /// Python. The memory stays allocated as long as the queue lives; its
    /// contents are the batch's only until the ticket is answered, after
    /// which workers write the buffer again. Reading through the pointers
    /// after that is a data race: a caller that dereferences them must stop
    /// before answering.
    pub fn batch_pointers(&self, ticket: &Ticket) -> SearchResult<(*const f32, *const bool)> {
        self.check_ticket(ticket)?;
        let b = self.buffer(ticket.generation);
        Ok(b.rows.input_pointers(ticket.start as usize, ticket.rows()))
    }

    /// Answers a batch with policy logits (rows x 66) and values relative to
    /// each row's observer (rows x 8). Validates everything first: on error the
    /// ticket stays open and nothing changes.
    pub fn submit(&self, ticket: &mut Ticket, policy: &[f32], values: &[f32]) -> SearchResult<()> {
        check_answers(policy, values, ticket.rows())?;
        self.answer_with(ticket, |_, out_policy, out_values| {
            out_policy.copy_from_slice(policy);
            out_values.copy_from_slice(values);
            Ok(())
        })
    }

    /// Answers a batch by letting `fill` write the answers in place (Rust
    /// evaluators): `fill(batch, policy, values)`. On error (from `fill`, or
    /// a non-finite answer) the ticket stays open.
    pub fn answer_with(
        &self,
        ticket: &mut Ticket,
        fill: impl FnOnce(&LeafBatch<'_>, &mut [f32], &mut [f32]) -> SearchResult<()>,
    ) -> SearchResult<()> {
        self.check_ticket(ticket)?;
        let b = self.buffer(ticket.generation);
        let (start, rows) = (ticket.start as usize, ticket.rows());
        // SAFETY: this part's rows are published and not written until it
        // is answered; holding the ticket mutably makes this call their only
        // answerer, and nobody reads the answers before the messages below.
        let (batch, handles, (policy, values)) = unsafe {
            (
                b.rows.inputs(start, rows),
                b.rows.handles(start, rows),
                b.rows.answers_mut(start, rows),
            )
        };
        fill(&batch, policy, values).and_then(|()| check_answers(policy, values, rows))?;
        let mut per_worker: Vec<Vec<u32>> = vec![Vec::new(); self.workers.len()];
        for (row, h) in handles.iter().enumerate() {
            // A handle naming no worker gets no message (nobody to tell).
            if let Some(rows) = per_worker.get_mut(h.worker as usize) {
                rows.push((start + row) as u32);
            }
        }
        let receivers = per_worker.iter().filter(|r| !r.is_empty()).count() as u32;
        b.holds.fetch_add(receivers, Ordering::Relaxed);
        ticket.answered = true;
        self.outstanding.fetch_sub(1, Ordering::Relaxed);
        self.drop_hold(b);
        for (worker, rows) in per_worker.into_iter().enumerate() {
            if rows.is_empty() {
                continue;
            }
            let msg = AnswerMsg {
                queue: self.id,
                generation: ticket.generation,
                rows,
            };
            if !self.workers[worker].deliver(msg) {
                // The worker is gone (engine closing): nobody will consume.
                self.drop_hold(b);
            }
        }
        Ok(())
    }

    /// Reads the answers of a worker's rows. Hand the message back with
    /// [`LeafQueue::consumed`] when done with them.
    ///
    /// # Panics
    /// If `msg` comes from another queue.
    pub fn answers<'a>(&'a self, msg: &'a AnswerMsg) -> impl Iterator<Item = Answer<'a>> + 'a {
        assert_eq!(msg.queue, self.id, "an answer message of another queue");
        let b = self.buffer(msg.generation);
        // SAFETY: answered rows are not written again until every message
        // about them was consumed, which takes `msg` by value.
        msg.rows
            .iter()
            .map(move |&row| unsafe { b.rows.answer(row as usize) })
    }

    /// A worker is done with the answers of `msg`.
    ///
    /// # Panics
    /// If `msg` comes from another queue.
    pub fn consumed(&self, msg: AnswerMsg) {
        assert_eq!(msg.queue, self.id, "an answer message of another queue");
        self.drop_hold(self.buffer(msg.generation));
    }

    fn drop_hold(&self, b: &Buffer) {
        if b.holds.fetch_sub(1, Ordering::AcqRel) == 1 {
            b.in_use.store(false, Ordering::Release);
            let head = self.head.load(Ordering::Acquire);
            self.try_advance(head);
            self.notify_consumer();
        }
    }
}

fn check_answers(policy: &[f32], values: &[f32], rows: usize) -> SearchResult<()> {
    if policy.len() != rows * NUM_ACTIONS {
        return Err(SearchError::BadShape(format!(
            "policy must have {rows} x {NUM_ACTIONS} = {} entries, got {}",
            rows * NUM_ACTIONS,
            policy.len()
        )));
    }
    if values.len() != rows * MAX_PLAYERS {
        return Err(SearchError::BadShape(format!(
            "values must have {rows} x {MAX_PLAYERS} = {} entries, got {}",
            rows * MAX_PLAYERS,
            values.len()
        )));
    }
    if let Some(i) = policy.iter().position(|v| !v.is_finite()) {
        return Err(SearchError::NonFinite {
            what: "policy",
            row: i / NUM_ACTIONS,
            col: i % NUM_ACTIONS,
        });
    }
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(SearchError::NonFinite {
            what: "values",
            row: i / MAX_PLAYERS,
            col: i % MAX_PLAYERS,
        });
    }
    Ok(())
}
