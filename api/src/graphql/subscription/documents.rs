use std::{sync::Arc, time::Duration};

use async_graphql::{Context, Subscription};
use futures::Stream;
use uuid::Uuid;

use crate::{
    auth::Action,
    error::{AppError, AppResult},
    graphql::{guards::Allow, types::IngestionJob},
    request::{RequestScope, ShortTx},
    service::indexing::{self, JobRow},
};

/// How often a progress subscription reads its job.
const POLL: Duration = Duration::from_millis(250);

/// The job as the caller may see it now (short transaction; `NOT_FOUND`
/// for another tenant's or a missing job).
async fn read(scope: &RequestScope, job_id: Uuid) -> AppResult<JobRow> {
    let short = ShortTx::open(scope.db(), scope.principal()).await?;
    let found = indexing::get(&short.tx, &short.caller, job_id).await;
    short.close().await;
    found?.ok_or_else(|| AppError::not_found("ingestion job"))
}

#[derive(Default)]
pub struct DocumentSubscription;

#[Subscription]
impl DocumentSubscription {
    /// An ingestion job's progress: its state now, then each change (read
    /// every 250 ms), ending with `COMPLETED` or `FAILED`. Another tenant's
    /// job is `NOT_FOUND`.
    #[graphql(guard = "Allow(Action::ReadContent)")]
    async fn ingestion_progress(
        &self,
        ctx: &Context<'_>,
        job_id: Uuid,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<IngestionJob>> + use<>> {
        let scope = ctx.data::<Arc<RequestScope>>()?.clone();
        let first = read(&scope, job_id).await?;
        Ok(async_stream::stream! {
            let mut last = first;
            yield Ok(IngestionJob::from(last.clone()));
            let mut ticks = tokio::time::interval(POLL);
            while !last.is_finished() {
                ticks.tick().await;
                match read(&scope, job_id).await {
                    Ok(now) if now != last => {
                        last = now;
                        yield Ok(IngestionJob::from(last.clone()));
                    }
                    Ok(_) => {}
                    Err(err) => {
                        yield Err(err.into());
                        break;
                    }
                }
            }
        })
    }
}
