//! The worker pool of [`Scheduler::schedule_all`] when `parallelism > 1` and every node is searched.
//!
//! Threads are started once per batch (scoped), not once per pod. Each worker owns a copy of the snapshot's
//! [`NodeColumns`] and receives, in one FIFO channel, the rows of nodes changed by bindings and the jobs: a chunk
//! of the pod's candidate nodes with the pod's [`Kernel`] and class. It answers with the feasible rows of its chunk
//! in node order. The calling thread takes the first chunk, then appends the workers' rows in chunk order, so the
//! rows are exactly those the single-threaded loop produces, in the same order, and the reduction (highest total,
//! ties to the first row, i.e. the smallest node name) picks the same node. Nothing in the result depends on the
//! thread count or on timing.
//!
//! A waiting thread polls its channel briefly, then polls while yielding its core (on a machine shared with
//! other work a pure spin would burn the time slice the other thread needs), and finally blocks.

use std::ops::Range;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, TryRecvError};

use super::fast::{FastRow, Kernel, StaticClass};
use crate::snapshot::{NodeColumns, NodeRow};

/// How many times a waiting thread polls its channel before it starts yielding.
const SPIN: u32 = 256;
/// How many times it then yields its core (to whatever else runs on the machine) between polls before it blocks.
const YIELDS: u32 = 2_000;

/// A message to a worker, handled in order.
#[derive(Debug)]
pub(crate) enum Message {
    /// A node's new numbers after a binding.
    Update(Arc<NodeRow>),
    /// Filter and score `class.candidates[range]`, reusing `out`.
    Job {
        /// The pod's changing filters and scores.
        kernel: Arc<Kernel>,
        /// The pod's class.
        class: Arc<StaticClass>,
        /// The chunk, as positions in `class.candidates`.
        range: Range<usize>,
        /// A buffer to fill and send back.
        out: Vec<FastRow>,
    },
}

/// Receives, spinning a little before blocking; `None` once the sender is gone.
pub(crate) fn receive<T>(rx: &Receiver<T>) -> Option<T> {
    for i in 0..SPIN + YIELDS {
        match rx.try_recv() {
            Ok(m) => return Some(m),
            Err(TryRecvError::Empty) if i < SPIN => std::hint::spin_loop(),
            Err(TryRecvError::Empty) => std::thread::yield_now(),
            Err(TryRecvError::Disconnected) => return None,
        }
    }
    rx.recv().ok()
}

/// A worker's loop: apply updates, run jobs, until the batch ends (the channel closes).
pub(crate) fn work(mut columns: NodeColumns, rx: &Receiver<Message>, tx: &Sender<Vec<FastRow>>) {
    while let Some(message) = receive(rx) {
        match message {
            Message::Update(row) => columns.set_row(&row),
            Message::Job {
                kernel,
                class,
                range,
                mut out,
            } => {
                out.clear();
                if let Some(ids) = class.candidates.get(range) {
                    kernel.scan(&class, &columns, ids, &mut out);
                }
                if tx.send(out).is_err() {
                    return;
                }
            }
        }
    }
}

/// The calling thread's handle on one worker.
#[derive(Debug)]
pub(crate) struct Worker {
    /// Jobs and updates.
    pub(crate) jobs: Sender<Message>,
    /// Rows back.
    pub(crate) rows: Receiver<Vec<FastRow>>,
    /// The buffer to send with the next job.
    pub(crate) spare: Vec<FastRow>,
}
