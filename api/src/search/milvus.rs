//! Milvus: the collection that mirrors the documents' vectors, and the
//! [`VectorStore`] that searches it.
//!
//! PostgreSQL stays the source of truth; Milvus only answers "which ids are
//! nearest". Every search filters by tenant AND workspace in the Milvus
//! expression, and the ids it returns are read back from PostgreSQL under
//! row-level security, so a wrong filter can never show another tenant's row.

use std::{
    collections::{HashMap, HashSet},
    time::Duration,
};

use milvus::v2::{ConsistencyLevel, prelude::*};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, Statement};
use serde_json::{Value as Json, json};
use uuid::Uuid;

use super::{
    query::{Scored, SearchFilter},
    store::{VectorQuery, VectorStore},
};
use crate::{
    config::{EMBEDDING_DIMENSIONS, MilvusConfig, MilvusIndex},
    domain::TenantId,
    error::{AppError, AppResult},
};

const VECTOR: &str = "embedding";
/// The scalar fields of a record, as the collection names them.
const FIELDS: [&str; 7] = [
    "id",
    "tenant_id",
    "workspace_id",
    "model",
    "language",
    "source_path",
    "metadata",
];

/// One document as Milvus holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct MirrorRecord {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub workspace_id: Uuid,
    pub model: String,
    pub language: String,
    pub source_path: String,
    pub metadata: Json,
    pub embedding: Vec<f32>,
}

/// A connected client and its checked collection.
pub struct Milvus {
    client: ClientV2,
    config: MilvusConfig,
}

impl std::fmt::Debug for Milvus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Milvus")
            .field("url", &self.config.url)
            .field("collection", &self.config.collection)
            .finish()
    }
}

type MilvusResult<T> = std::result::Result<T, milvus::v2::error::Error>;

impl Milvus {
    /// Connects, creates the collection (with its index) when missing or
    /// checks it when present, and loads it for search.
    pub async fn connect(config: &MilvusConfig) -> anyhow::Result<Self> {
        // Bounded retries: a Milvus that is down must answer UNAVAILABLE in
        // seconds, not hold the request until its timeout (the SDK's
        // default retries 75 times without a time limit).
        let retry = RetryConfig::new()
            .max_attempts(4)
            .max_retry_timeout(Duration::from_secs(3))
            .initial_backoff(Duration::from_millis(50))
            .max_backoff(Duration::from_secs(1));
        let mut connect = ConnectConfig::new()
            .uri(config.url.clone())
            .connect_timeout(Duration::from_secs(5))
            .retry(retry);
        if let Some(token) = &config.token {
            connect = connect.token(token.expose().clone());
        }
        let client = ClientV2::new(&connect)
            .await
            .map_err(|e| anyhow::anyhow!("cannot connect to Milvus at {}: {e}", config.url))?;
        client.set_rpc_deadline(Duration::from_secs(30));
        let milvus = Self {
            client,
            config: config.clone(),
        };
        milvus.ensure_collection().await?;
        Ok(milvus)
    }

    pub fn collection(&self) -> &str {
        &self.config.collection
    }

    async fn ensure_collection(&self) -> anyhow::Result<()> {
        let name = self.collection();
        let exists = self
            .client
            .has_collection(HasCollectionRequest::builder().collection_name(name).build()?)
            .await
            .map_err(|e| anyhow::anyhow!("Milvus at {}: {e}", self.config.url))?
            .exists();
        if exists {
            self.check_collection().await?;
        } else {
            self.create_collection().await?;
        }
        self.client
            .load_collection(LoadCollectionRequest::builder().collection_name(name).build()?)
            .await
            .map_err(|e| anyhow::anyhow!("loading Milvus collection {name}: {e}"))?;
        Ok(())
    }

    async fn create_collection(&self) -> anyhow::Result<()> {
        let name = self.collection();
        let text = |field: &str, max: u32| {
            FieldSchema::new()
                .name(field)
                .data_type(DataType::VarChar)
                .max_length(max)
        };
        let schema = CollectionSchema::new()
            .add_field(text("id", 36).primary_key(true).auto_id(false))
            // The partition key: one tenant's searches touch its partition only.
            .add_field(text("tenant_id", 36).partition_key(true))
            .add_field(text("workspace_id", 36))
            .add_field(text("model", 512))
            .add_field(text("language", 64))
            .add_field(text("source_path", 4096))
            .add_field(FieldSchema::new().name("metadata").data_type(DataType::Json))
            .add_field(
                FieldSchema::new()
                    .name(VECTOR)
                    .data_type(DataType::FloatVector)
                    .dimension(EMBEDDING_DIMENSIONS as u32),
            );
        self.client
            .create_collection(
                CreateCollectionRequest::builder()
                    .collection_name(name)
                    .schema(schema)
                    .build()?,
            )
            .await
            .map_err(|e| anyhow::anyhow!("creating Milvus collection {name}: {e}"))?;
        let params: HashMap<String, String> = self.config.index_params.iter().cloned().collect();
        let index = IndexParam::new()
            .field_name(VECTOR)
            .index_type(index_type(self.config.index))
            .metric_type(MetricType::Cosine)
            .extra_params(params);
        // `sync(false)`: milvus-lite builds at once and has no build progress to poll.
        self.client
            .create_index(
                CreateIndexRequest::builder()
                    .collection_name(name)
                    .index_param(index)
                    .sync(false)
                    .build()?,
            )
            .await
            .map_err(|e| anyhow::anyhow!("indexing Milvus collection {name}: {e}"))?;
        tracing::info!(collection = name, index = ?self.config.index, "created the Milvus collection");
        Ok(())
    }

    /// Refuses a collection this server cannot use: another dimension or metric.
    async fn check_collection(&self) -> anyhow::Result<()> {
        let name = self.collection();
        let described = self
            .client
            .describe_collection(DescribeCollectionRequest::builder().collection_name(name).build()?)
            .await?;
        let schema = described.description().get_schema();
        let vector = schema.get_fields().iter().find(|f| f.get_name() == VECTOR);
        let dimension = vector.map(FieldSchema::get_dimension).unwrap_or_default();
        if dimension != EMBEDDING_DIMENSIONS as u32 {
            anyhow::bail!(
                "Milvus collection {name} has no {VECTOR} field of {EMBEDDING_DIMENSIONS} dimensions (found {dimension}); \
                 set SCREENPLAY_MILVUS_COLLECTION to another name or drop it"
            );
        }
        for field in FIELDS {
            if !schema.get_fields().iter().any(|f| f.get_name() == field) {
                anyhow::bail!("Milvus collection {name} has no `{field}` field; it was not created by this server");
            }
        }
        let indexes = self
            .client
            .describe_index(
                DescribeIndexRequest::builder()
                    .collection_name(name)
                    .field_name(VECTOR)
                    .build()?,
            )
            .await?;
        let metric = indexes.indexes().first().map(IndexDesc::get_metric_type);
        if metric != Some(MetricType::Cosine) {
            anyhow::bail!(
                "Milvus collection {name} is indexed with metric {metric:?}, not COSINE; drop it or use another collection"
            );
        }
        Ok(())
    }

    /// Whether Milvus answers (for `/readyz`).
    pub async fn readiness(&self) -> std::result::Result<(), String> {
        let request = HasCollectionRequest::builder()
            .collection_name(self.collection())
            .build()
            .map_err(|e| e.to_string())?;
        match tokio::time::timeout(Duration::from_secs(2), self.client.has_collection(request)).await {
            Ok(Ok(r)) if r.exists() => Ok(()),
            Ok(Ok(_)) => Err(format!("the Milvus collection {} is missing", self.collection())),
            Ok(Err(e)) => Err(format!("Milvus does not answer: {e}")),
            Err(_) => Err("Milvus does not answer within 2 s".into()),
        }
    }

    /// Seals what was written so Milvus indexes it (a growing segment is
    /// searched by brute force until then).
    pub async fn flush(&self) -> MilvusResult<()> {
        let request = FlushRequest::builder()
            .collection_names([self.collection()])
            .wait_flushed_ms(120_000)
            .build()?;
        self.client.flush(request).await?;
        Ok(())
    }

    /// Rows the vector index covers, of all rows.
    pub async fn index_progress(&self) -> MilvusResult<(i64, i64)> {
        let request = DescribeIndexRequest::builder()
            .collection_name(self.collection())
            .field_name(VECTOR)
            .build()?;
        let response = self.client.describe_index(request).await?;
        Ok(response
            .indexes()
            .first()
            .map_or((0, 0), |i| (i.get_indexed_rows(), i.get_total_rows())))
    }

    /// Adds or replaces these documents (by id; each id once per call).
    pub async fn upsert(&self, records: &[MirrorRecord]) -> MilvusResult<()> {
        if records.is_empty() {
            return Ok(());
        }
        let rows = records.iter().map(|r| {
            json!({
                "id": r.id.to_string(),
                "tenant_id": r.tenant_id.to_string(),
                "workspace_id": r.workspace_id.to_string(),
                "model": r.model,
                "language": r.language,
                "source_path": r.source_path,
                "metadata": r.metadata,
                VECTOR: r.embedding,
            })
        });
        // Delete, then insert: Milvus 2.3's upsert ignores the partition key
        // and files rows where a tenant's searches never look (measured on
        // 2.3.5). The insert's later timestamp wins; should it fail, the
        // outbox rows stay queued and the next attempt restores the record.
        let ids: Vec<Uuid> = records.iter().map(|r| r.id).collect();
        self.delete(&ids).await?;
        let request = InsertRequest::builder()
            .collection_name(self.collection())
            .rows(rows)
            .build()?;
        self.client.insert(request).await?;
        Ok(())
    }

    /// Removes these documents; ids Milvus does not hold are ignored.
    pub async fn delete(&self, ids: &[Uuid]) -> MilvusResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let request = DeleteRequest::builder()
            .collection_name(self.collection())
            .filter(format!("id in {}", string_list(ids.iter().map(Uuid::to_string))))
            .build()?;
        self.client.delete(request).await?;
        Ok(())
    }

    /// How many vectors Milvus holds for a workspace.
    pub async fn count(&self, tenant_id: Uuid, workspace_id: Uuid) -> MilvusResult<u64> {
        let filter = format!(
            "tenant_id == {} && workspace_id == {}",
            quote(&tenant_id.to_string()),
            quote(&workspace_id.to_string())
        );
        let request = QueryRequest::builder()
            .collection_name(self.collection())
            .filter(filter)
            .output_fields(["count(*)"])
            .consistency_level(ConsistencyLevel::Strong)
            .build()?;
        let response = self.client.query(request).await?;
        let count = match response.results().rows()?.next() {
            Some(row) => row.get_i64("count(*)")?,
            None => 0,
        };
        Ok(count.max(0) as u64)
    }

    /// The stored records of these ids (those Milvus holds).
    pub async fn records(&self, ids: &[Uuid]) -> MilvusResult<Vec<MirrorRecord>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let request = QueryRequest::builder()
            .collection_name(self.collection())
            .filter(format!("id in {}", string_list(ids.iter().map(Uuid::to_string))))
            .output_fields(FIELDS.into_iter().chain([VECTOR]))
            .limit(ids.len() as i64)
            .consistency_level(ConsistencyLevel::Strong)
            .build()?;
        let response = self.client.query(request).await?;
        let mut records = Vec::with_capacity(ids.len());
        for row in response.results().rows()? {
            let row = row.to_entity_row()?;
            let text = |k: &str| row.get(k).and_then(Json::as_str).unwrap_or_default().to_owned();
            let id = |k: &str| Uuid::parse_str(&text(k)).unwrap_or_default();
            let embedding = row
                .get(VECTOR)
                .and_then(Json::as_array)
                .map(|a| a.iter().filter_map(Json::as_f64).map(|x| x as f32).collect())
                .unwrap_or_default();
            records.push(MirrorRecord {
                id: id("id"),
                tenant_id: id("tenant_id"),
                workspace_id: id("workspace_id"),
                model: text("model"),
                language: text("language"),
                source_path: text("source_path"),
                metadata: row.get("metadata").cloned().unwrap_or(Json::Null),
                embedding,
            });
        }
        Ok(records)
    }

    /// Nearest ids with their cosine similarity, best first.
    async fn nearest(&self, tenant_id: TenantId, q: &VectorQuery<'_>, limit: u32) -> MilvusResult<Vec<(Uuid, f32)>> {
        let ef = q.ef_search.unwrap_or(100).max(limit);
        let params = match self.config.index {
            MilvusIndex::Hnsw => HashMap::from([("ef".to_owned(), ef.to_string())]),
            MilvusIndex::IvfFlat => HashMap::from([("nprobe".to_owned(), "32".to_owned())]),
            MilvusIndex::Flat | MilvusIndex::Auto => HashMap::new(),
        };
        let request = SearchRequest::builder()
            .collection_name(self.collection())
            .vector_field(VECTOR)
            .vectors(SearchVectors::Float(vec![q.embedding.to_vec()]))
            .filter(filter_expression(Uuid::from(tenant_id), q))
            .output_fields(["id"])
            .limit(i64::from(limit))
            .metric_type(MetricType::Cosine)
            .extra_params(params)
            // Bounded: Strong waits for Milvus's next time tick (~200 ms a
            // search); the outbox already makes a new vector a moment late.
            .consistency_level(ConsistencyLevel::Bounded)
            .build()?;
        let response = self.client.search(request).await?;
        let mut hits = Vec::new();
        for result in response.results() {
            let scores = result.get_scores();
            if let Ids::VarChar(ids) = result.get_ids() {
                for (id, score) in ids.iter().zip(scores) {
                    if let Ok(id) = Uuid::parse_str(id) {
                        hits.push((id, *score));
                    }
                }
            }
        }
        Ok(hits)
    }
}

fn index_type(index: MilvusIndex) -> IndexType {
    match index {
        MilvusIndex::Hnsw => IndexType::Hnsw,
        MilvusIndex::IvfFlat => IndexType::IvfFlat,
        MilvusIndex::Flat => IndexType::Flat,
        MilvusIndex::Auto => IndexType::AutoIndex,
    }
}

/// A Milvus string literal: double quotes, backslash escapes.
fn quote(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into())
}

fn string_list(items: impl Iterator<Item = String>) -> String {
    let quoted: Vec<String> = items.map(|s| quote(&s)).collect();
    format!("[{}]", quoted.join(", "))
}

/// Tenant AND workspace AND model, then the search filter. A metadata part
/// Milvus cannot express is left to PostgreSQL, which checks every filter
/// again on the rows it reads.
pub fn filter_expression(tenant_id: Uuid, q: &VectorQuery<'_>) -> String {
    let mut parts = vec![
        format!("tenant_id == {}", quote(&tenant_id.to_string())),
        format!("workspace_id == {}", quote(&q.workspace_id.to_string())),
        format!("model == {}", quote(q.model)),
    ];
    parts.extend(filter_parts(q.filter));
    parts.join(" && ")
}

fn filter_parts(filter: &SearchFilter) -> Vec<String> {
    let mut parts = Vec::new();
    if let Some(language) = &filter.language {
        parts.push(format!("language == {}", quote(language)));
    }
    if let Some(prefix) = filter.source_path_prefix.as_deref().filter(|p| !p.is_empty()) {
        // LIKE's wildcards in the prefix would match too much: cut the
        // pattern before the first one (PostgreSQL checks the whole prefix).
        let plain: String = prefix.chars().take_while(|c| !matches!(c, '%' | '_' | '\\')).collect();
        if !plain.is_empty() {
            parts.push(format!("source_path like {}", quote(&format!("{plain}%"))));
        }
    }
    if let Some(Json::Object(map)) = &filter.metadata {
        metadata_parts("metadata", map, &mut parts);
    }
    parts
}

/// `metadata @> {...}` as Milvus JSON paths: scalars by equality, arrays of
/// scalars by `json_contains_all`, objects recursively.
fn metadata_parts(path: &str, map: &serde_json::Map<String, Json>, parts: &mut Vec<String>) {
    for (key, value) in map {
        let at = format!("{path}[{}]", quote(key));
        match value {
            Json::String(_) | Json::Number(_) | Json::Bool(_) => parts.push(format!("{at} == {value}")),
            Json::Object(inner) => metadata_parts(&at, inner, parts),
            Json::Array(items) if !items.is_empty() && items.iter().all(is_scalar) => {
                parts.push(format!("json_contains_all({at}, {value})"))
            }
            _ => {}
        }
    }
}

fn is_scalar(v: &Json) -> bool {
    matches!(v, Json::String(_) | Json::Number(_) | Json::Bool(_))
}

/// Searches vectors in Milvus; rows come from PostgreSQL afterwards.
#[derive(Debug, Clone)]
pub struct MilvusStore {
    milvus: std::sync::Arc<Milvus>,
}

impl MilvusStore {
    pub fn new(milvus: std::sync::Arc<Milvus>) -> Self {
        Self { milvus }
    }
}

#[async_trait::async_trait]
impl VectorStore for MilvusStore {
    fn name(&self) -> &'static str {
        "milvus"
    }

    fn searches_in_postgres(&self) -> bool {
        false
    }

    async fn readiness(&self) -> std::result::Result<(), String> {
        self.milvus.readiness().await
    }

    async fn search(&self, tx: &DatabaseTransaction, q: &VectorQuery<'_>) -> AppResult<Vec<Scored>> {
        let tenant_id = scope_and_model(tx, q).await?;
        // A few more than asked: PostgreSQL may drop ids Milvus still holds.
        let fetch = (q.limit + q.limit / 4 + 4).min(16_384);
        let hits = self.milvus.nearest(tenant_id, q, fetch).await.map_err(|e| {
            tracing::warn!(error = %e, "Milvus search failed");
            AppError::Unavailable
        })?;
        let ids: Vec<Uuid> = hits.iter().map(|h| h.0).collect();
        let confirmed = confirm(tx, q, &ids).await?;
        Ok(hits
            .into_iter()
            .filter(|(id, _)| confirmed.contains(id))
            .take(q.limit as usize)
            .enumerate()
            .map(|(n, (id, score))| Scored {
                id,
                score: f64::from(score),
                rank: n as u32 + 1,
            })
            .collect())
    }
}

/// The tenant the transaction is scoped to, after the pgvector path's
/// refusal of a model the workspace's documents are not embedded with.
async fn scope_and_model(tx: &DatabaseTransaction, q: &VectorQuery<'_>) -> AppResult<TenantId> {
    let row = tx
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT screenplay.current_tenant_id() AS tenant_id \
             FROM (SELECT screenplay.check_embedding_model($1, $2)) AS checked",
            [q.workspace_id.into(), q.model.to_owned().into()],
        ))
        .await?
        .ok_or(AppError::not_found("workspace"))?;
    let tenant_id: Option<Uuid> = row.try_get("", "tenant_id")?;
    tenant_id.map(TenantId::from).ok_or(AppError::not_found("workspace"))
}

/// The ids PostgreSQL (under row-level security) confirms: searchable
/// rows of the workspace and model matching every filter. Milvus may lag
/// behind a delete, or express a filter only in part.
async fn confirm(tx: &DatabaseTransaction, q: &VectorQuery<'_>, ids: &[Uuid]) -> AppResult<HashSet<Uuid>> {
    if ids.is_empty() {
        return Ok(HashSet::new());
    }
    let rows = tx
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT d.id FROM screenplay.code_documents AS d \
             WHERE d.id = ANY($1) AND d.workspace_id = $2 AND d.status = 'READY' \
               AND d.embedding IS NOT NULL AND d.embedding_model = $3 \
               AND ($4::text IS NULL OR d.language = $4) \
               AND ($5::text IS NULL OR starts_with(d.source_path, $5)) \
               AND ($6::jsonb IS NULL OR d.metadata @> $6)",
            [
                ids.to_vec().into(),
                q.workspace_id.into(),
                q.model.to_owned().into(),
                q.filter.language.clone().into(),
                q.filter.source_path_prefix.clone().into(),
                q.filter.metadata.clone().into(),
            ],
        ))
        .await?;
    rows.iter().map(|r| Ok(r.try_get("", "id")?)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_quote_their_values_and_translate_metadata() {
        let filter = SearchFilter {
            language: Some("en\"x".into()),
            source_path_prefix: Some("docs/a_b".into()),
            metadata: Some(json!({"genre": "noir", "tags": ["a", "b"], "n": {"act": 2}, "mixed": [{"x": 1}]})),
        };
        let q = VectorQuery {
            workspace_id: Uuid::nil(),
            embedding: &[],
            model: "m",
            limit: 10,
            filter: &filter,
            ef_search: None,
            exact: false,
        };
        let expr = filter_expression(Uuid::nil(), &q);
        assert!(expr.starts_with(
            "tenant_id == \"00000000-0000-0000-0000-000000000000\" && workspace_id == \"00000000-0000-0000-0000-000000000000\" && model == \"m\""
        ));
        assert!(expr.contains("language == \"en\\\"x\""), "{expr}");
        assert!(expr.contains("source_path like \"docs/a%\""), "{expr}");
        assert!(expr.contains("metadata[\"genre\"] == \"noir\""), "{expr}");
        assert!(
            expr.contains("json_contains_all(metadata[\"tags\"], [\"a\",\"b\"])"),
            "{expr}"
        );
        assert!(expr.contains("metadata[\"n\"][\"act\"] == 2"), "{expr}");
        assert!(!expr.contains("mixed"), "{expr}");
    }
}
