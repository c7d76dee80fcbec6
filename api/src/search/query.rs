//! What every channel of a search is given and gives back.

use uuid::Uuid;

/// Filters every channel applies.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchFilter {
    /// Documents of this language only.
    pub language: Option<String>,
    /// Documents whose source path starts with this.
    pub source_path_prefix: Option<String>,
    /// Documents whose metadata contains this JSON object (`@>`).
    pub metadata: Option<serde_json::Value>,
}

impl SearchFilter {
    /// Whether it lets every document through.
    pub fn is_empty(&self) -> bool {
        self.language.is_none() && self.source_path_prefix.is_none() && self.metadata.is_none()
    }
}

/// One hit of one channel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    pub id: Uuid,
    pub score: f64,
    /// 1-based.
    pub rank: u32,
}
