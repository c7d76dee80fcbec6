//! Small workspaces' vectors kept in memory, two bytes per dimension, to
//! pick the candidates of an exact search.
//!
//! A workspace searched exactly compares the query with every chunk's
//! vector in PostgreSQL: reading a 6 KB row and computing a 1,536-dimension
//! distance per chunk, most of a VECTOR search's time. Here each vector is
//! kept normalised and quantised to `i16` with its own scale, and with the
//! length of its quantisation error, which bounds how far the similarity
//! computed from the copy can be from pgvector's: a chunk whose best case
//! is below the `limit`-th best worst case cannot be in the answer. The
//! search statement then compares only the remaining candidates exactly
//! (usually a few more than `limit`), in the same order and with the same
//! ties as the full scan, so the answer is the one the full scan gives.
//!
//! A copy is current while `screenplay.workspace_vector_versions` holds the
//! version it was read with; the search statement checks that in its own
//! snapshot and falls back to the full scan when it differs (a write since,
//! or a replica behind). Copies are read in the background, one at a time,
//! for workspaces searched twice within a minute, and are keyed by tenant
//! and workspace: a request of another tenant never reaches a copy (its
//! statement would not find the workspace anyway). Memory is bounded
//! (`SCREENPLAY_RESIDENT_VECTORS_MB`); the least recently searched copy goes
//! first.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicU64, Ordering},
};

use sea_orm::{ConnectionTrait, DbBackend, Statement, prelude::PgVector};
use uuid::Uuid;

// The stored vectors' dimensions (`vector(1536)`).
use crate::config::EMBEDDING_DIMENSIONS as DIMENSIONS;
use crate::{db::Db, domain::TenantId, error::AppResult};
/// Copies of more rows are compared on the blocking pool.
const BLOCKING_ROWS: usize = 2_000;
/// Rows read per statement while loading a copy.
const PAGE: i64 = 1000;
/// How far pgvector's float32 cosine similarity can be from the exact one:
/// a float32 sum of 1,536 products is off by at most 1,535·2⁻²⁴ (9.2e-5)
/// of the sum of their magnitudes, which is at most the product of the
/// norms, in any order of summation; the dot product's error and the
/// norms' (half each, through the square root) add up to under 1.9e-4.
/// The sums here (sixteen float32 lanes of 96 terms) stay within 1e-5.
/// Both together, with room to spare.
const ROUNDING: f32 = 2.5e-4;

type Key = (TenantId, Uuid);

/// One workspace's vectors, quantised.
pub struct VectorCopy {
    /// `workspace_vector_versions.version` when read.
    pub version: i64,
    /// The model of every vector (a workspace of mixed models is not kept).
    pub model: String,
    ids: Vec<Uuid>,
    /// `DIMENSIONS` codes per row: the unit vector divided by `scales[i]`, rounded.
    codes: Vec<i16>,
    scales: Vec<f32>,
    /// Length of (unit vector − scale · codes), rounded up.
    errors: Vec<f32>,
}

/// Candidates for the `limit` nearest rows of a copy.
#[derive(Debug, Clone, PartialEq)]
pub struct Picked {
    pub ids: Vec<Uuid>,
    pub version: i64,
    /// Rows of the copy (the workspace's size while the version holds).
    pub rows: i64,
}

/// What the copies did since the server started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResidentStats {
    /// Searches answered from a copy's candidates.
    pub hits: u64,
    /// Searches that found their copy out of date (then scanned in full).
    pub stale: u64,
    /// Copies read.
    pub loads: u64,
    /// Copies whose reading failed or was given up (the workspace changed meanwhile).
    pub failed_loads: u64,
    /// Copies in memory, and their bytes.
    pub copies: u64,
    pub bytes: u64,
}

/// The copies of one server. Cheap to clone.
#[derive(Clone)]
pub struct ResidentVectors {
    inner: Arc<Inner>,
}

struct Inner {
    db: Option<Db>,
    budget: usize,
    copies: Mutex<Copies>,
    /// One copy is read at a time.
    loading: Arc<tokio::sync::Semaphore>,
    hits: AtomicU64,
    stale: AtomicU64,
    loads: AtomicU64,
    failed_loads: AtomicU64,
}

struct Copies {
    lru: lru::LruCache<Key, Arc<VectorCopy>>,
    bytes: usize,
    /// Versions that could not be kept (a second model, a vector without a
    /// direction, a write while reading), so as not to read them again.
    refused: lru::LruCache<Key, i64>,
}

impl ResidentVectors {
    /// Copies of at most `budget` bytes in all, read through `db`; `None`
    /// or a budget of 0 keeps none.
    pub fn new(db: Option<Db>, budget: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                budget,
                copies: Mutex::new(Copies {
                    lru: lru::LruCache::unbounded(),
                    bytes: 0,
                    refused: lru::LruCache::new(std::num::NonZeroUsize::new(1024).expect("1024")),
                }),
                loading: Arc::new(tokio::sync::Semaphore::new(1)),
                hits: AtomicU64::new(0),
                stale: AtomicU64::new(0),
                loads: AtomicU64::new(0),
                failed_loads: AtomicU64::new(0),
            }),
        }
    }

    /// Keeps nothing.
    pub fn disabled() -> Self {
        Self::new(None, 0)
    }

    /// Whether copies are kept at all.
    pub fn enabled(&self) -> bool {
        self.inner.db.is_some() && self.inner.budget > 0
    }

    /// Candidates for the `limit` nearest rows of the workspace's copy,
    /// when there is one of `model`'s vectors and they narrow the search
    /// (at most half the rows). A large copy is read on the blocking pool
    /// (10,000 rows take a few milliseconds), a small one in place.
    pub async fn pick(
        &self,
        tenant: TenantId,
        workspace: Uuid,
        query: &[f32],
        model: &str,
        limit: usize,
    ) -> Option<Picked> {
        if !self.enabled() {
            return None;
        }
        let copy = self.lock().lru.get(&(tenant, workspace)).cloned()?;
        if copy.model != model {
            return None;
        }
        let rows = if copy.len() > BLOCKING_ROWS {
            let (copy, query) = (Arc::clone(&copy), query.to_vec());
            tokio::task::spawn_blocking(move || copy.candidates(&query, limit))
                .await
                .ok()??
        } else {
            copy.candidates(query, limit)?
        };
        let ids: Vec<Uuid> = rows.iter().map(|&i| copy.ids[i]).collect();
        (ids.len() * 2 <= copy.len() || copy.len() <= limit).then(|| Picked {
            ids,
            version: copy.version,
            rows: copy.len() as i64,
        })
    }

    /// After a search statement: `used` is the version of the copy whose
    /// candidates it was given, `version` and `size` what it read of the
    /// workspace, `again` whether the workspace was searched within the
    /// last minute. Counts the outcome, drops an out-of-date copy and
    /// starts reading a current one when the workspace is worth it.
    pub fn searched(&self, tenant: TenantId, workspace: Uuid, seen: Seen) {
        if !self.enabled() {
            return;
        }
        let current = seen.used.is_some() && seen.used == seen.version;
        if current {
            self.inner.hits.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if seen.used.is_some() {
            self.inner.stale.fetch_add(1, Ordering::Relaxed);
            self.forget(tenant, workspace);
        }
        let worth = seen.again && seen.size.is_some_and(|s| s > 0 && s <= seen.max_rows);
        if let (true, Some(version)) = (worth, seen.version) {
            self.load_in_background(tenant, workspace, version, seen.size.unwrap_or(0));
        }
    }

    /// What the copies did.
    pub fn stats(&self) -> ResidentStats {
        let copies = self.lock();
        ResidentStats {
            hits: self.inner.hits.load(Ordering::Relaxed),
            stale: self.inner.stale.load(Ordering::Relaxed),
            loads: self.inner.loads.load(Ordering::Relaxed),
            failed_loads: self.inner.failed_loads.load(Ordering::Relaxed),
            copies: copies.lru.len() as u64,
            bytes: copies.bytes as u64,
        }
    }

    /// Whether the workspace has a copy (of any version).
    pub fn holds(&self, tenant: TenantId, workspace: Uuid) -> bool {
        self.lock().lru.contains(&(tenant, workspace))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Copies> {
        self.inner.copies.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn forget(&self, tenant: TenantId, workspace: Uuid) {
        let mut copies = self.lock();
        if let Some(old) = copies.lru.pop(&(tenant, workspace)) {
            copies.bytes -= old.bytes();
        }
    }

    /// Keeps `copy`, dropping the least recently searched ones over the budget.
    fn keep(&self, key: Key, copy: VectorCopy) {
        let bytes = copy.bytes();
        if bytes > self.inner.budget {
            return;
        }
        let mut copies = self.lock();
        if let Some(old) = copies.lru.put(key, Arc::new(copy)) {
            copies.bytes -= old.bytes();
        }
        copies.bytes += bytes;
        while copies.bytes > self.inner.budget {
            let Some((_, old)) = copies.lru.pop_lru() else { break };
            copies.bytes -= old.bytes();
        }
    }

    /// Reads the workspace's copy on a task of its own, unless another
    /// copy is being read, or it would not fit.
    fn load_in_background(&self, tenant: TenantId, workspace: Uuid, version: i64, size: i64) {
        if VectorCopy::bytes_for(size as usize) > self.inner.budget {
            return;
        }
        let Some(db) = self.inner.db.clone() else { return };
        {
            let copies = self.lock();
            let key = (tenant, workspace);
            // Kept already (a search its candidates did not narrow), or not keepable.
            if copies.lru.peek(&key).is_some_and(|c| c.version == version)
                || copies.refused.peek(&key) == Some(&version)
            {
                return;
            }
        }
        let Ok(permit) = Arc::clone(&self.inner.loading).try_acquire_owned() else {
            return;
        };
        let this = self.clone();
        tokio::spawn(async move {
            let _permit = permit;
            match load(&db, tenant, workspace, version).await {
                Ok(Some(copy)) => {
                    this.inner.loads.fetch_add(1, Ordering::Relaxed);
                    this.keep((tenant, workspace), copy);
                }
                Ok(None) => {
                    // Not tried again until the workspace changes.
                    this.inner.failed_loads.fetch_add(1, Ordering::Relaxed);
                    this.lock().refused.put((tenant, workspace), version);
                }
                Err(err) => {
                    this.inner.failed_loads.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%workspace, error = ?err, "reading a workspace's vectors into memory failed");
                }
            }
        });
    }
}

/// What a search statement saw of a workspace (see [`ResidentVectors::searched`]).
#[derive(Debug, Clone, Copy)]
pub struct Seen {
    pub used: Option<i64>,
    pub version: Option<i64>,
    pub size: Option<i64>,
    pub max_rows: i64,
    pub again: bool,
}

/// The workspace's vectors at `version`, page by page in the tenant's
/// transaction; `None` when the version moved meanwhile or the workspace's
/// vectors are of more than one model.
async fn load(db: &Db, tenant: TenantId, workspace: Uuid, version: i64) -> AppResult<Option<VectorCopy>> {
    let tx = db.begin_tenant(tenant).await?;
    let mut builder = Builder::new(version);
    let mut after: Option<(sea_orm::prelude::DateTimeWithTimeZone, Uuid)> = None;
    loop {
        let rows = tx.query_all_raw(page_statement(workspace, after)).await?;
        let mut page = Vec::with_capacity(rows.len());
        for row in &rows {
            if row.try_get::<Option<i64>>("", "version")? != Some(version) {
                return Ok(None);
            }
            let model: Option<String> = row.try_get("", "embedding_model")?;
            let embedding: Option<PgVector> = row.try_get("", "embedding")?;
            if let (Some(model), Some(embedding)) = (model, embedding) {
                page.push((row.try_get::<Uuid>("", "id")?, model, embedding));
            }
        }
        after = match rows.last() {
            Some(last) if rows.len() as i64 == PAGE => Some((last.try_get("", "created_at")?, last.try_get("", "id")?)),
            _ => None,
        };
        drop(rows);
        // Quantising a page is milliseconds of arithmetic: not on a runtime worker.
        let Some(more) = tokio::task::spawn_blocking(move || builder.push_all(page))
            .await
            .map_err(|e| crate::error::AppError::internal(anyhow::anyhow!("quantising a page: {e}")))?
        else {
            return Ok(None);
        };
        builder = more;
        if after.is_none() {
            break;
        }
    }
    let now = tx
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT version FROM screenplay.workspace_vector_versions WHERE workspace_id = $1",
            [workspace.into()],
        ))
        .await?
        .map(|row| row.try_get::<i64>("", "version"))
        .transpose()?;
    tx.rollback().await?;
    // Every page and the end saw the same version: no write came between.
    Ok((now == Some(version)).then(|| builder.finish()).flatten())
}

/// A page of the workspace's chunks, newest first, with the version.
fn page_statement(workspace: Uuid, after: Option<(sea_orm::prelude::DateTimeWithTimeZone, Uuid)>) -> Statement {
    let select = "SELECT (SELECT v.version FROM screenplay.workspace_vector_versions AS v WHERE v.workspace_id = $1) AS version, \
                  d.id, d.created_at, d.embedding, d.embedding_model FROM screenplay.code_documents AS d \
                  WHERE d.workspace_id = $1";
    let order = format!("ORDER BY d.created_at DESC, d.id DESC LIMIT {PAGE}");
    match after {
        None => Statement::from_sql_and_values(DbBackend::Postgres, format!("{select} {order}"), [workspace.into()]),
        Some((at, id)) => Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!("{select} AND (d.created_at, d.id) < ($2, $3) {order}"),
            [workspace.into(), at.into(), id.into()],
        ),
    }
}

/// A copy being built, row by row.
struct Builder {
    copy: VectorCopy,
    mixed: bool,
}

impl Builder {
    fn new(version: i64) -> Self {
        Self {
            copy: VectorCopy {
                version,
                model: String::new(),
                ids: Vec::new(),
                codes: Vec::new(),
                scales: Vec::new(),
                errors: Vec::new(),
            },
            mixed: false,
        }
    }

    /// Adds a row; false when the copy cannot stand for the workspace (a
    /// second model, a vector of another length, zero or not finite).
    fn push(&mut self, id: Uuid, model: &str, vector: &[f32]) -> bool {
        if self.copy.ids.is_empty() {
            model.clone_into(&mut self.copy.model);
        } else if self.copy.model != model {
            self.mixed = true;
        }
        let Some((scale, error)) = quantise(vector, &mut self.copy.codes) else {
            return false;
        };
        self.copy.ids.push(id);
        self.copy.scales.push(scale);
        self.copy.errors.push(error);
        !self.mixed
    }

    /// Adds a page of rows; `None` when one cannot be kept (see [`Builder::push`]).
    fn push_all(mut self, page: Vec<(Uuid, String, PgVector)>) -> Option<Self> {
        for (id, model, vector) in page {
            if !self.push(id, &model, vector.as_slice()) {
                return None;
            }
        }
        Some(self)
    }

    fn finish(self) -> Option<VectorCopy> {
        (!self.mixed && !self.copy.ids.is_empty()).then_some(self.copy)
    }
}

/// Appends the vector's codes; its scale and error bound, or `None` when it
/// has no direction (zero, not finite) or the wrong length.
fn quantise(vector: &[f32], codes: &mut Vec<i16>) -> Option<(f32, f32)> {
    if vector.len() != DIMENSIONS || vector.iter().any(|x| !x.is_finite()) {
        return None;
    }
    let norm = vector.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>().sqrt();
    let largest = vector.iter().map(|x| f64::from(x.abs())).fold(0.0, f64::max) / norm;
    if norm == 0.0 || !norm.is_finite() || largest == 0.0 {
        return None;
    }
    let scale = (largest / 32767.0) as f32;
    let mut error = 0.0f64;
    for &x in vector {
        let unit = f64::from(x) / norm;
        let code = (unit / f64::from(scale)).round().clamp(-32767.0, 32767.0);
        codes.push(code as i16);
        let off = unit - code * f64::from(scale);
        error += off * off;
    }
    // Rounded up: the bound must not shrink on its way to float32.
    Some((scale, (error.sqrt() * (1.0 + 1e-6) + 1e-9) as f32))
}

impl VectorCopy {
    fn len(&self) -> usize {
        self.ids.len()
    }

    fn bytes(&self) -> usize {
        Self::bytes_for(self.len()) + self.model.len()
    }

    /// Memory of a copy of `rows` rows.
    fn bytes_for(rows: usize) -> usize {
        rows * (DIMENSIONS * size_of::<i16>() + size_of::<Uuid>() + 2 * size_of::<f32>()) + 256
    }

    /// Every row that can be among the `limit` nearest to `query` by
    /// pgvector's cosine distance; `None` for a query without a direction.
    ///
    /// Two passes: every row through integer dot products with a coarsely
    /// quantised query (SSE2's `pmaddwd` does eight products at once), then
    /// the rows that pass through float32 dot products with the query
    /// itself, each pass keeping the rows whose best case reaches the
    /// `limit`-th best worst case.
    fn candidates(&self, query: &[f32], limit: usize) -> Option<Vec<usize>> {
        let unit = unit(query)?;
        if self.len() <= limit {
            return Some((0..self.len()).collect());
        }
        let coarse = Coarse::of(&unit);
        let rows: Vec<usize> = (0..self.len()).collect();
        let first = keep_best(&rows, limit, |i| {
            let s = coarse.scale * f64::from(self.scales[i]) * f64::from(idot(&coarse.codes, self.row(i)));
            (
                s as f32,
                (1.0 + coarse.error) * self.errors[i] + coarse.error + ROUNDING,
            )
        });
        if first.len() <= limit {
            return Some(first);
        }
        Some(keep_best(&first, limit, |i| {
            (dot(&unit, self.row(i)) * self.scales[i], self.errors[i] + ROUNDING)
        }))
    }

    fn row(&self, i: usize) -> &[i16] {
        &self.codes[i * DIMENSIONS..(i + 1) * DIMENSIONS]
    }
}

/// The rows of `rows` whose best case (similarity + bound, by `score`)
/// reaches the `limit`-th best worst case (similarity − bound): at least
/// `limit` rows are that good, so no other row can be among the best `limit`.
fn keep_best(rows: &[usize], limit: usize, score: impl Fn(usize) -> (f32, f32)) -> Vec<usize> {
    let scored: Vec<(f32, f32)> = rows.iter().map(|&i| score(i)).collect();
    let mut worst: Vec<f32> = scored.iter().map(|(s, b)| s - b).collect();
    let (_, bar, _) = worst.select_nth_unstable_by(limit - 1, |a, b| b.total_cmp(a));
    let bar = *bar;
    rows.iter()
        .zip(&scored)
        .filter(|(_, (s, b))| s + b >= bar)
        .map(|(&i, _)| i)
        .collect()
}

/// The unit query quantised so that no integer dot product with a row's
/// codes (each at most 32,767 in size) can overflow `i32`: the sizes of its
/// codes add up to at most 65,536, so the sum of the products' sizes stays
/// below 2³¹ in any order.
struct Coarse {
    codes: Vec<i16>,
    scale: f64,
    /// Length of (unit query − scale · codes), rounded up.
    error: f32,
}

impl Coarse {
    fn of(unit: &[f32]) -> Self {
        let total: f64 = unit.iter().map(|x| f64::from(x.abs())).sum();
        let largest = unit.iter().map(|x| f64::from(x.abs())).fold(0.0, f64::max);
        // Each code rounds up by at most ½: 1,536 of them by at most 768.
        let budget = (65_536 - DIMENSIONS / 2) as f64;
        let scale = (total / budget).max(largest / 32_767.0);
        let mut error = 0.0f64;
        let codes = unit
            .iter()
            .map(|&x| {
                let code = (f64::from(x) / scale).round().clamp(-32_767.0, 32_767.0);
                let off = f64::from(x) - code * scale;
                error += off * off;
                code as i16
            })
            .collect();
        Self {
            codes,
            scale,
            error: (error.sqrt() * (1.0 + 1e-6) + 1e-9) as f32,
        }
    }
}

/// Σ a·b in 32-bit integers (see [`Coarse`] for why it cannot overflow).
fn idot(a: &[i16], b: &[i16]) -> i32 {
    a.iter().zip(b).map(|(&x, &y)| i32::from(x) * i32::from(y)).sum()
}

/// The query as a unit vector, or `None` without a direction.
fn unit(query: &[f32]) -> Option<Vec<f32>> {
    if query.len() != DIMENSIONS {
        return None;
    }
    let norm = query.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>().sqrt();
    (norm > 0.0 && norm.is_finite()).then(|| query.iter().map(|&x| (f64::from(x) / norm) as f32).collect())
}

/// Σ query·code in sixteen float32 lanes (which the compiler vectorises;
/// one running sum would not be).
fn dot(query: &[f32], codes: &[i16]) -> f32 {
    let mut lanes = [0f32; 16];
    for (q, c) in query.chunks_exact(16).zip(codes.chunks_exact(16)) {
        for l in 0..16 {
            lanes[l] += q[l] * f32::from(c[l]);
        }
    }
    lanes.iter().sum()
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng, rngs::StdRng};

    use super::*;

    /// pgvector's cosine distance: float32 running sums, then double.
    fn pgvector_distance(a: &[f32], b: &[f32]) -> f64 {
        let (mut dot, mut na, mut nb) = (0f32, 0f32, 0f32);
        for (x, y) in a.iter().zip(b) {
            dot += x * y;
            na += x * x;
            nb += y * y;
        }
        1.0 - (f64::from(dot) / (f64::from(na) * f64::from(nb)).sqrt()).clamp(-1.0, 1.0)
    }

    fn copy_of(rows: &[(Uuid, Vec<f32>)]) -> VectorCopy {
        let mut builder = Builder::new(7);
        for (id, v) in rows {
            assert!(builder.push(*id, "m", v));
        }
        builder.finish().expect("a copy")
    }

    fn random(rng: &mut StdRng, around: Option<&[f32]>, spread: f32) -> Vec<f32> {
        (0..DIMENSIONS)
            .map(|i| around.map_or(0.0, |c| c[i]) + spread * (rng.random::<f32>() - 0.5))
            .collect()
    }

    /// The exact top `limit` by pgvector's distance, then id (the search
    /// statement's order), is always among the candidates.
    fn check(rows: &[(Uuid, Vec<f32>)], queries: &[Vec<f32>], limit: usize) -> usize {
        let copy = copy_of(rows);
        let mut most = 0;
        for q in queries {
            let picked: Vec<Uuid> = copy
                .candidates(q, limit)
                .expect("candidates")
                .iter()
                .map(|&i| copy.ids[i])
                .collect();
            let mut exact: Vec<(f64, Uuid)> = rows.iter().map(|(id, v)| (pgvector_distance(q, v), *id)).collect();
            exact.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            for (_, id) in exact.iter().take(limit) {
                assert!(
                    picked.contains(id),
                    "a row of the exact top {limit} was not a candidate"
                );
            }
            most = most.max(picked.len());
        }
        most
    }

    #[test]
    fn the_exact_top_rows_are_always_candidates() {
        let mut rng = StdRng::seed_from_u64(1);
        let centres: Vec<Vec<f32>> = (0..8).map(|_| random(&mut rng, None, 2.0)).collect();
        let rows: Vec<(Uuid, Vec<f32>)> = (0..1000)
            .map(|i| (Uuid::now_v7(), random(&mut rng, Some(&centres[i % 8]), 0.6)))
            .collect();
        let queries: Vec<Vec<f32>> = (0..40).map(|i| random(&mut rng, Some(&centres[i % 8]), 0.6)).collect();
        let most = check(&rows, &queries, 10);
        assert!(most < 40, "clustered rows: at most {most} candidates for 10");
        let uniform: Vec<(Uuid, Vec<f32>)> = (0..500)
            .map(|_| (Uuid::now_v7(), random(&mut rng, None, 2.0)))
            .collect();
        let queries: Vec<Vec<f32>> = (0..20).map(|_| random(&mut rng, None, 2.0)).collect();
        check(&uniform, &queries, 50);
    }

    #[test]
    fn duplicates_and_ties_keep_every_tied_row() {
        let mut rng = StdRng::seed_from_u64(2);
        let same = random(&mut rng, None, 2.0);
        let mut rows: Vec<(Uuid, Vec<f32>)> = (0..30).map(|_| (Uuid::now_v7(), same.clone())).collect();
        rows.extend((0..300).map(|_| (Uuid::now_v7(), random(&mut rng, None, 2.0))));
        // Ten of thirty identical rows make the top 10: the smallest ids.
        let copy = copy_of(&rows);
        let picked: Vec<Uuid> = copy
            .candidates(&same, 10)
            .expect("candidates")
            .iter()
            .map(|&i| copy.ids[i])
            .collect();
        assert!(rows[..30].iter().all(|(id, _)| picked.contains(id)));
        check(&rows, &[same, random(&mut rng, None, 2.0)], 10);
    }

    #[test]
    fn the_integer_pass_cannot_overflow() {
        // Every code at its largest, the query's sizes adding up to their
        // limit, all of one sign: the largest sum there can be (a debug
        // build panics on an overflow).
        let mut rows = vec![
            (Uuid::now_v7(), vec![1.0; DIMENSIONS]),
            (Uuid::now_v7(), vec![-1.0; DIMENSIONS]),
        ];
        let mut axis = vec![0.0; DIMENSIONS];
        axis[5] = 1.0;
        rows.push((Uuid::now_v7(), axis.clone()));
        for query in [vec![1.0; DIMENSIONS], vec![-3.0; DIMENSIONS], axis] {
            check(&rows, &[query], 1);
        }
    }

    #[test]
    fn vectors_without_a_direction_are_not_kept() {
        let mut builder = Builder::new(1);
        assert!(!builder.push(Uuid::now_v7(), "m", &[0.0; DIMENSIONS]));
        let mut builder = Builder::new(1);
        let mut nan = vec![0.5; DIMENSIONS];
        nan[3] = f32::NAN;
        assert!(!builder.push(Uuid::now_v7(), "m", &nan));
        let mut builder = Builder::new(1);
        assert!(builder.push(Uuid::now_v7(), "m", &[0.5; DIMENSIONS]));
        assert!(
            !builder.push(Uuid::now_v7(), "other", &[0.5; DIMENSIONS]),
            "a second model"
        );
        assert!(builder.finish().is_none());
        let copy = copy_of(&[(Uuid::now_v7(), vec![0.5; DIMENSIONS])]);
        assert_eq!(
            copy.candidates(&[0.0; DIMENSIONS], 1),
            None,
            "a query without a direction"
        );
    }

    #[test]
    fn copies_stay_within_their_budget_least_recently_searched_first() {
        let rows: Vec<(Uuid, Vec<f32>)> = (0..10)
            .map(|i| (Uuid::now_v7(), vec![i as f32 + 1.0; DIMENSIONS]))
            .collect();
        let one = copy_of(&rows).bytes();
        let resident = ResidentVectors::new(None, 2 * one + one / 2);
        let tenant = TenantId::from(Uuid::now_v7());
        let (a, b, c) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        resident.keep((tenant, a), copy_of(&rows));
        resident.keep((tenant, b), copy_of(&rows));
        // `a` searched since.
        assert!(resident.lock().lru.get(&(tenant, a)).is_some());
        resident.keep((tenant, c), copy_of(&rows));
        assert!(!resident.holds(tenant, b) && resident.holds(tenant, a) && resident.holds(tenant, c));
        assert_eq!(resident.stats().bytes as usize, 2 * one);
        assert!(
            !resident.holds(TenantId::from(Uuid::now_v7()), a),
            "keyed by tenant too"
        );
    }
}
