//! Bulk loading `code_documents` with binary `COPY`: the baseline the
//! ingest path is measured against, and the fast way to build test and
//! benchmark data (run as the schema owner).

use sea_orm::DatabaseConnection;
use uuid::Uuid;

/// A row to copy.
#[derive(Debug, Clone)]
pub struct CopyRow {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub workspace_id: Uuid,
    pub source_path: String,
    pub title: String,
    pub content: String,
    pub content_hash: String,
    pub language: String,
    pub embedding: Vec<f32>,
    pub embedding_model: String,
    pub token_count: i32,
}

impl CopyRow {
    /// Synthetic row `i` of a workspace (`doc/i`, unique content hash), model `synthetic`.
    pub fn synthetic(tenant_id: Uuid, workspace_id: Uuid, i: usize, embedding: Vec<f32>) -> Self {
        Self {
            id: Uuid::now_v7(),
            tenant_id,
            workspace_id,
            source_path: format!("doc/{i}"),
            title: format!("doc {i}"),
            content: format!("chunk {i}"),
            content_hash: format!("{i:064}"),
            language: "en".into(),
            embedding,
            embedding_model: "synthetic".into(),
            token_count: 2,
        }
    }
}

const COPY: &str = "COPY screenplay.code_documents (id, tenant_id, workspace_id, source_path, title, content, \
                    content_hash, language, embedding, embedding_model, token_count) FROM STDIN (FORMAT binary)";

fn field(buf: &mut Vec<u8>, bytes: &[u8]) {
    buf.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
    buf.extend_from_slice(bytes);
}

/// Encodes rows in PostgreSQL's binary COPY format.
pub fn encode(rows: &[CopyRow], with_header: bool, with_trailer: bool) -> Vec<u8> {
    let mut buf = Vec::with_capacity(rows.len() * 7000);
    if with_header {
        buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
        buf.extend_from_slice(&0i32.to_be_bytes());
        buf.extend_from_slice(&0i32.to_be_bytes());
    }
    for r in rows {
        buf.extend_from_slice(&11i16.to_be_bytes());
        field(&mut buf, r.id.as_bytes());
        field(&mut buf, r.tenant_id.as_bytes());
        field(&mut buf, r.workspace_id.as_bytes());
        field(&mut buf, r.source_path.as_bytes());
        field(&mut buf, r.title.as_bytes());
        field(&mut buf, r.content.as_bytes());
        field(&mut buf, r.content_hash.as_bytes());
        field(&mut buf, r.language.as_bytes());
        let mut v = Vec::with_capacity(4 + r.embedding.len() * 4);
        v.extend_from_slice(&(r.embedding.len() as i16).to_be_bytes());
        v.extend_from_slice(&0i16.to_be_bytes());
        for x in &r.embedding {
            v.extend_from_slice(&x.to_be_bytes());
        }
        field(&mut buf, &v);
        field(&mut buf, r.embedding_model.as_bytes());
        field(&mut buf, &r.token_count.to_be_bytes());
    }
    if with_trailer {
        buf.extend_from_slice(&(-1i16).to_be_bytes());
    }
    buf
}

/// Copies rows in one COPY statement (sent in pieces); returns rows copied.
///
/// PostgreSQL refuses `COPY FROM` where row-level security applies, and it
/// is FORCEd on `code_documents` even for its owner; so the owner lifts the
/// FORCE for the length of this transaction (other sessions wait on the
/// table lock, and see it FORCEd again when this commits).
pub async fn copy_rows(db: &DatabaseConnection, rows: &[CopyRow]) -> anyhow::Result<u64> {
    use sea_orm::sqlx;
    let pool = db.get_postgres_connection_pool();
    let mut conn = pool.acquire().await?;
    sqlx::raw_sql("BEGIN; ALTER TABLE screenplay.code_documents NO FORCE ROW LEVEL SECURITY")
        .execute(&mut *conn)
        .await?;
    let copied = copy_in(&mut conn, rows).await;
    if copied.is_err() {
        sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await?;
        return copied;
    }
    sqlx::raw_sql("ALTER TABLE screenplay.code_documents FORCE ROW LEVEL SECURITY; COMMIT")
        .execute(&mut *conn)
        .await?;
    copied
}

async fn copy_in(conn: &mut sea_orm::sqlx::PgConnection, rows: &[CopyRow]) -> anyhow::Result<u64> {
    let mut copy = conn.copy_in_raw(COPY).await?;
    let pieces = rows.chunks(500).collect::<Vec<_>>();
    let last = pieces.len().saturating_sub(1);
    if pieces.is_empty() {
        copy.send(encode(&[], true, true)).await?;
    }
    for (i, piece) in pieces.into_iter().enumerate() {
        copy.send(encode(piece, i == 0, i == last)).await?;
    }
    Ok(copy.finish().await?)
}
