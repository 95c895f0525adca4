//! Group commit: many callers' writes of one kind share a transaction.
//!
//! Under load, most of a small write's cost is not the rows but the trips to
//! the database around them (begin, commit, the pool's checks, on PostgreSQL a
//! flush to disk and the event-order lock). A [`GroupCommit`] owns a writer
//! task: callers hand it owned work and wait; the task takes everything waiting
//! (up to a bound), writes it in one transaction with multi-row statements,
//! commits, publishes the events, and answers each caller. An idle caller is
//! written at once: nothing waits for a batch to fill.
//!
//! Each item succeeds or fails on its own: [`BatchWrite::write_batch`] refuses
//! an item without writing it, and if the database refuses the batch as a
//! whole, every item is written again in a transaction of its own, so one bad
//! item never fails the others and each caller gets its own error. Not when
//! the database is unreachable (every caller gets the 503 at once, and so does
//! everyone queued meanwhile), and not when the commit itself failed (whether
//! it was written is unknown, so nothing is written twice).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt;
use sea_orm::{DatabaseConnection, DatabaseTransaction, TransactionTrait};
use tokio::sync::{mpsc, oneshot};

use super::{NewEvent, outbox};
use crate::{
    bus::Bus,
    error::{AppError, Result},
};

/// What one item of a batch comes to: the caller's answer and the events to append, or why it was refused.
pub type ItemOutcome<T> = Result<(T, Vec<NewEvent>)>;

/// A kind of write that can be done for many callers in one transaction.
pub trait BatchWrite: Send + Sync + Sized + 'static {
    /// What the caller gets back.
    type Output: Send + 'static;

    /// Writes every item in `txn` and says, in order, what became of each. An
    /// item refused (`Err` in the list) must leave nothing written; an `Err` for
    /// the whole call rolls the batch back and the items are retried one by one.
    fn write_batch(
        txn: &DatabaseTransaction,
        items: &[Self],
    ) -> impl Future<Output = Result<Vec<ItemOutcome<Self::Output>>>> + Send;
}

type Request<W> = (W, oneshot::Sender<Result<<W as BatchWrite>::Output>>);

/// The handle callers write through; cheap to clone. The writer task ends when the last handle is dropped.
pub struct GroupCommit<W: BatchWrite> {
    requests: mpsc::Sender<Request<W>>,
}

impl<W: BatchWrite> Clone for GroupCommit<W> {
    fn clone(&self) -> Self {
        GroupCommit { requests: self.requests.clone() }
    }
}

impl<W: BatchWrite> GroupCommit<W> {
    /// Starts the writer task; a batch holds at most `max_batch` items.
    pub fn start(db: DatabaseConnection, bus: Arc<dyn Bus>, max_batch: usize) -> Self {
        let max_batch = max_batch.max(1);
        let (requests, queue) = mpsc::channel(max_batch * 4);
        tokio::spawn(write_batches::<W>(db, bus, queue, max_batch));
        GroupCommit { requests }
    }

    /// Writes `item` with whatever else is waiting, and returns its answer once committed.
    pub async fn write(&self, item: W) -> Result<W::Output> {
        let (answer, answered) = oneshot::channel();
        self.requests.send((item, answer)).await.map_err(|_| writer_gone())?;
        answered.await.map_err(|_| writer_gone())?
    }
}

fn writer_gone() -> AppError {
    AppError::Internal("the writer stopped before answering".into())
}

async fn write_batches<W: BatchWrite>(
    db: DatabaseConnection,
    bus: Arc<dyn Bus>,
    mut queue: mpsc::Receiver<Request<W>>,
    max_batch: usize,
) {
    let mut batch = Vec::with_capacity(max_batch);
    while queue.recv_many(&mut batch, max_batch).await > 0 {
        let (items, answers): (Vec<W>, Vec<_>) = batch.drain(..).unzip();
        // A panic in one batch must not stop the writer for everyone after it:
        // its callers see their answer dropped, the next batch goes on.
        let written = AssertUnwindSafe(write_all(&db, &*bus, &items)).catch_unwind().await;
        match written {
            Ok((results, outage, last_event)) => {
                // Answered once the hub has dispatched the batch's events (see
                // `DispatchProgress::wait_for`), by a task: the writer goes on meanwhile.
                let answer_all = move || {
                    for (answer, result) in answers.into_iter().zip(results) {
                        let _ = answer.send(result);
                    }
                };
                // (A task dropped at shutdown drops its answers: those callers get an error.)
                match bus.dispatch_progress().wait_for(last_event) {
                    Some(dispatch) => drop(tokio::spawn(async move {
                        dispatch.await;
                        answer_all();
                    })),
                    None => answer_all(),
                }
                // Whoever queued during an outage would only wait out the same
                // timeout in turn: they get the same 503 now.
                if let Some(outage) = outage {
                    while let Ok((_, answer)) = queue.try_recv() {
                        let _ = answer.send(Err(outage.copied()));
                    }
                }
            }
            Err(_) => tracing::error!(items = items.len(), "a batch write panicked; its callers get an error"),
        }
    }
}

/// Why a batch's transaction did not commit.
enum Failure {
    /// Before the commit: nothing was written.
    Before(AppError),
    /// At the commit: whether it was written is unknown, so it is never written again.
    AtCommit(AppError),
}

/// What a batch came to: each item's answer, whether the database is
/// unreachable, and the last event written (to wait for its dispatch).
type BatchResult<T> = (Vec<Result<T>>, Option<AppError>, Option<i64>);

/// One transaction for the batch; if the database refused it (not for being
/// unreachable, and not at the commit), one per item.
async fn write_all<W: BatchWrite>(db: &DatabaseConnection, bus: &dyn Bus, items: &[W]) -> BatchResult<W::Output> {
    let error = match write_in_one(db, bus, items).await {
        Ok((results, last)) => return (results, None, last),
        Err(Failure::Before(error)) if items.len() > 1 && !matches!(error, AppError::Unavailable(_)) => {
            tracing::warn!(%error, items = items.len(), "a batch write failed; writing its items one by one");
            let mut results = Vec::with_capacity(items.len());
            let mut last_event = None;
            for item in items {
                let alone = match write_in_one(db, bus, std::slice::from_ref(item)).await {
                    Ok((mut one, last)) => {
                        last_event = last.or(last_event);
                        one.pop().unwrap_or_else(|| Err(writer_gone()))
                    }
                    Err(Failure::Before(error) | Failure::AtCommit(error)) => Err(error),
                };
                results.push(alone);
            }
            return (results, None, last_event);
        }
        Err(Failure::Before(error) | Failure::AtCommit(error)) => error,
    };
    let outage = matches!(error, AppError::Unavailable(_)).then(|| error.copied());
    let mut results: Vec<_> = items.iter().skip(1).map(|_| Err(error.copied())).collect();
    results.insert(0, Err(error));
    (results, outage, None)
}

/// Each item's answer and the last event the batch wrote.
type BatchWritten<T> = (Vec<Result<T>>, Option<i64>);

async fn write_in_one<W: BatchWrite>(
    db: &DatabaseConnection,
    bus: &dyn Bus,
    items: &[W],
) -> std::result::Result<BatchWritten<W::Output>, Failure> {
    let txn = db.begin().await.map_err(|e| Failure::Before(e.into()))?;
    let outcomes = W::write_batch(&txn, items).await.map_err(Failure::Before)?;
    if outcomes.len() != items.len() {
        let problem = format!("a batch of {} items gave {} results", items.len(), outcomes.len());
        return Err(Failure::Before(AppError::Internal(problem)));
    }
    let mut events = Vec::new();
    let results = outcomes
        .into_iter()
        .map(|outcome| {
            outcome.map(|(output, item_events)| {
                events.extend(item_events);
                output
            })
        })
        .collect();
    let stored = outbox::append(&txn, events).await.map_err(Failure::Before)?;
    let last = outbox::commit_and_publish(txn, bus, stored).await.map_err(Failure::AtCommit)?;
    Ok((results, last))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sea_orm::{ConnectionTrait, Statement};
    use tokio::sync::{Notify, broadcast};

    use super::*;
    use crate::{
        bus::InProcessBus,
        events::{StoredEvent, Topic},
        metrics::Metrics,
    };

    /// A write of one note, in a real (in-memory SQLite) database.
    enum Note {
        Text(&'static str),
        /// Waits inside its batch until released, so others queue meanwhile.
        Gate(Arc<Gate>),
        Panic,
        /// Fails its whole batch as an unreachable database does.
        Outage,
    }

    #[derive(Default)]
    struct Gate {
        entered: Notify,
        release: Notify,
    }

    /// The note's row id and how many items its batch held.
    type Written = (i64, usize);

    impl BatchWrite for Note {
        type Output = Written;

        async fn write_batch(txn: &DatabaseTransaction, items: &[Self]) -> Result<Vec<ItemOutcome<Written>>> {
            let mut outcomes = Vec::new();
            for item in items {
                let text = match item {
                    Note::Text("") => {
                        outcomes.push(Err(AppError::field("note", "must not be empty")));
                        continue;
                    }
                    Note::Text(text) => *text,
                    Note::Gate(gate) => {
                        gate.entered.notify_one();
                        gate.release.notified().await;
                        "gate"
                    }
                    Note::Panic => panic!("a bug in a batch"),
                    Note::Outage => return Err(AppError::Unavailable("the database is unavailable".into())),
                };
                let row = txn
                    .query_one(Statement::from_sql_and_values(
                        txn.get_database_backend(),
                        "INSERT INTO notes (text) VALUES ($1) RETURNING id",
                        [text.into()],
                    ))
                    .await?
                    .expect("a returned row");
                let id: i64 = row.try_get("", "id")?;
                let event = NewEvent {
                    topic: Topic::Tasks,
                    entity_id: id,
                    kind: "note",
                    payload: "{}".into(),
                    audience: vec![],
                };
                outcomes.push(Ok(((id, items.len()), vec![event])));
            }
            Ok(outcomes)
        }
    }

    /// What the bus carried: the entity ids of the published events, in order.
    fn published(carried: &mut broadcast::Receiver<Arc<StoredEvent>>) -> Vec<i64> {
        std::iter::from_fn(|| carried.try_recv().ok()).map(|event| event.entity_id).collect()
    }

    fn bus() -> (Arc<dyn Bus>, broadcast::Receiver<Arc<StoredEvent>>) {
        let bus = InProcessBus::new(1024, Arc::new(Metrics::default()));
        let carried = bus.subscribe();
        (Arc::new(bus), carried)
    }

    async fn database() -> DatabaseConnection {
        let db = crate::db::connect("sqlite::memory:").await.unwrap();
        crate::db::migrate(&db).await.unwrap();
        db.execute_unprepared(
            "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL CHECK (text <> 'poison'))",
        )
        .await
        .unwrap();
        db
    }

    async fn notes(db: &DatabaseConnection) -> Vec<String> {
        let rows = db
            .query_all(Statement::from_string(db.get_database_backend(), "SELECT text FROM notes ORDER BY id"))
            .await
            .unwrap();
        rows.iter().map(|row| row.try_get("", "text").unwrap()).collect()
    }

    /// Starts a writer, blocks it on a gate, queues `items` behind it, then releases it.
    async fn queued_behind_a_gate(items: Vec<Note>) -> (DatabaseConnection, Vec<i64>, Vec<Result<Written>>) {
        let db = database().await;
        let (bus, mut carried) = bus();
        let writer = GroupCommit::<Note>::start(db.clone(), bus, 64);
        let gate = Arc::new(Gate::default());
        let first = tokio::spawn({
            let (writer, gate) = (writer.clone(), gate.clone());
            async move { writer.write(Note::Gate(gate)).await }
        });
        gate.entered.notified().await;
        let count = items.len();
        let rest: Vec<_> = items
            .into_iter()
            .map(|item| {
                let writer = writer.clone();
                tokio::spawn(async move { writer.write(item).await })
            })
            .collect();
        let queued = async {
            while writer.requests.max_capacity() - writer.requests.capacity() < count {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(5), queued).await.expect("the writes queue behind the gate");
        gate.release.notify_one();
        assert_eq!(first.await.unwrap().unwrap().1, 1, "the gate was written alone");
        let mut results = Vec::new();
        for handle in rest {
            results.push(handle.await.unwrap());
        }
        (db, published(&mut carried), results)
    }

    #[tokio::test]
    async fn with_a_hub_listening_answers_wait_for_the_dispatch_while_the_writer_goes_on() {
        let db = database().await;
        let (bus, mut carried) = bus();
        let _listening = bus.dispatch_progress().listen();
        let writer = GroupCommit::<Note>::start(db.clone(), bus.clone(), 64);
        let first = tokio::spawn({
            let writer = writer.clone();
            async move { writer.write(Note::Text("first")).await }
        });
        let within = Duration::from_secs(5);
        let first_event = tokio::time::timeout(within, carried.recv()).await.unwrap().unwrap();
        // Its answer waits for the dispatch; the writer writes the next batch meanwhile.
        let second = tokio::spawn({
            let writer = writer.clone();
            async move { writer.write(Note::Text("second")).await }
        });
        let second_event = tokio::time::timeout(within, carried.recv()).await.unwrap().unwrap();
        assert!(!first.is_finished(), "answered before its event was dispatched");
        bus.dispatch_progress().advance(first_event.id);
        bus.dispatch_progress().advance(second_event.id);
        assert_eq!(tokio::time::timeout(within, first).await.unwrap().unwrap().unwrap().1, 1);
        assert_eq!(tokio::time::timeout(within, second).await.unwrap().unwrap().unwrap().1, 1);
        assert_eq!(notes(&db).await, ["first", "second"]);
    }

    #[tokio::test]
    async fn writes_waiting_together_share_one_batch_and_each_gets_its_own_answer() {
        let (db, published, results) =
            queued_behind_a_gate(vec![Note::Text("a"), Note::Text("b"), Note::Text("c")]).await;
        let written: Vec<Written> = results.into_iter().map(|r| r.unwrap()).collect();
        assert!(written.iter().all(|(_, batch)| *batch == 3), "{written:?}");
        let ids: Vec<i64> = written.iter().map(|(id, _)| *id).collect();
        assert_eq!(notes(&db).await, ["gate", "a", "b", "c"]);
        assert_eq!(published, [1, ids[0], ids[1], ids[2]], "events published in id order");
    }

    #[tokio::test]
    async fn a_refused_item_is_not_written_and_the_others_are() {
        let (db, published, results) =
            queued_behind_a_gate(vec![Note::Text("a"), Note::Text(""), Note::Text("c")]).await;
        assert!(results[0].is_ok() && results[2].is_ok());
        assert!(matches!(&results[1], Err(AppError::Validation(_))), "{:?}", results[1]);
        assert_eq!(notes(&db).await, ["gate", "a", "c"]);
        assert_eq!(published.len(), 3, "no event for the refused item");
    }

    #[tokio::test]
    async fn a_batch_the_database_refuses_is_written_again_item_by_item() {
        let items = vec![Note::Text("a"), Note::Text("poison"), Note::Text("c")];
        let (db, published, results) = queued_behind_a_gate(items).await;
        assert_eq!(results[0].as_ref().unwrap().1, 1, "written again on its own");
        assert!(matches!(results[1], Err(AppError::Database(_))), "{:?}", results[1]);
        assert_eq!(results[2].as_ref().unwrap().1, 1);
        assert_eq!(notes(&db).await, ["gate", "a", "c"], "nothing of the failed batch stayed");
        assert_eq!(published.len(), 3, "only committed events are published");
    }

    #[tokio::test]
    async fn an_unreachable_database_fails_the_batch_at_once_without_writing_items_again() {
        let (db, published, results) = queued_behind_a_gate(vec![Note::Text("a"), Note::Outage, Note::Text("c")]).await;
        assert!(results.iter().all(|r| matches!(r, Err(AppError::Unavailable(_)))), "{results:?}");
        assert_eq!(notes(&db).await, ["gate"], "no item was written on its own");
        assert_eq!(published.len(), 1);
    }

    #[tokio::test]
    async fn a_panic_in_one_batch_does_not_stop_the_writer() {
        let db = database().await;
        let writer = GroupCommit::<Note>::start(db.clone(), bus().0, 64);
        assert!(matches!(writer.write(Note::Panic).await, Err(AppError::Internal(_))));
        assert!(writer.write(Note::Text("after")).await.is_ok());
        assert_eq!(notes(&db).await, ["after"]);
    }
}
