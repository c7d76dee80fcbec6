//! Fusing the vector and keyword channels, exactly as
//! `screenplay.hybrid_search_documents` does in SQL.

use std::collections::HashMap;

use uuid::Uuid;

use super::{keyword, query::Scored};

/// How to combine the channels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fusion {
    /// Reciprocal rank fusion: `sum of 1 / (k + rank)` over the channels.
    Rrf { k: u32 },
    /// `vector * similarity + keyword * (keyword score / best keyword score)`.
    Weighted { vector: f64, keyword: f64 },
}

impl Fusion {
    /// RRF's customary k.
    pub const DEFAULT_RRF_K: u32 = 60;

    /// Weights from the request: a missing weight is 1 minus the other.
    pub fn weighted(vector: Option<f64>, keyword: Option<f64>) -> Self {
        let v = vector.unwrap_or_else(|| (1.0 - keyword.unwrap_or(0.0)).max(0.0));
        let k = keyword.unwrap_or_else(|| (1.0 - v).max(0.0));
        Self::Weighted { vector: v, keyword: k }
    }
}

/// A fused hit with what each channel said about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Fused {
    pub id: Uuid,
    pub score: f64,
    pub vector: Option<Scored>,
    pub keyword: Option<Scored>,
}

/// Fuses two ranked lists; best first, ties by id (as the SQL function).
/// Hits the keyword channel found exactly come first, the most exact first
/// ([`keyword::exactness`]), each tier in fused order: no fusion may push
/// the chunk holding the exact span a writer typed below a partial match.
pub fn fuse(vector: &[Scored], keyword: &[Scored], fusion: Fusion) -> Vec<Fused> {
    let mut by_id: HashMap<Uuid, (Option<Scored>, Option<Scored>)> = HashMap::new();
    for hit in vector {
        by_id.entry(hit.id).or_default().0 = Some(*hit);
    }
    for hit in keyword {
        by_id.entry(hit.id).or_default().1 = Some(*hit);
    }
    let best_keyword = keyword.iter().map(|h| h.score).fold(0.0f64, f64::max);
    let mut fused: Vec<Fused> = by_id
        .into_iter()
        .map(|(id, (v, k))| {
            let score = match fusion {
                Fusion::Rrf { k: rrf_k } => {
                    let part = |hit: Option<Scored>| hit.map_or(0.0, |h| 1.0 / (f64::from(rrf_k) + f64::from(h.rank)));
                    part(v) + part(k)
                }
                Fusion::Weighted {
                    vector: wv,
                    keyword: wk,
                } => {
                    let vs = v.map_or(0.0, |h| h.score);
                    let ks = match k {
                        Some(h) if best_keyword > 0.0 => h.score / best_keyword,
                        _ => 0.0,
                    };
                    wv * vs + wk * ks
                }
            };
            Fused {
                id,
                score,
                vector: v,
                keyword: k,
            }
        })
        .collect();
    let tier = |f: &Fused| f.keyword.map_or(0, |k| keyword::exactness(k.score));
    fused.sort_by(|a, b| {
        tier(b)
            .cmp(&tier(a))
            .then(b.score.total_cmp(&a.score))
            .then(a.id.cmp(&b.id))
    });
    fused
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(id: u128, score: f64, rank: u32) -> Scored {
        Scored {
            id: Uuid::from_u128(id),
            score,
            rank,
        }
    }

    #[test]
    fn rrf_rewards_agreement() {
        let v = [hit(1, 0.9, 1), hit(2, 0.8, 2), hit(3, 0.7, 3)];
        let k = [hit(3, 0.5, 1), hit(4, 0.4, 2)];
        let fused = fuse(&v, &k, Fusion::Rrf { k: 60 });
        assert_eq!(fused[0].id, Uuid::from_u128(3));
        assert!((fused[0].score - (1.0 / 63.0 + 1.0 / 61.0)).abs() < 1e-12);
        assert_eq!(fused.len(), 4);
        assert_eq!(fused[0].vector.map(|h| h.rank), Some(3));
        assert_eq!(fused[0].keyword.map(|h| h.rank), Some(1));
    }

    #[test]
    fn exact_keyword_hits_come_first_most_exact_first() {
        // 3 and 4 are partial keyword matches both channels like; 2 holds
        // the phrase (exactness 2), 1 has the query as its title (4).
        let v = [hit(3, 0.9, 1), hit(4, 0.8, 2)];
        let k = [hit(1, 4.05, 1), hit(2, 2.1, 2), hit(3, 0.3, 3), hit(4, 0.2, 4)];
        for fusion in [Fusion::Rrf { k: 60 }, Fusion::weighted(Some(0.9), None)] {
            let order: Vec<u128> = fuse(&v, &k, fusion).iter().map(|f| f.id.as_u128()).collect();
            assert_eq!(order, [1, 2, 3, 4], "{fusion:?}");
        }
    }

    #[test]
    fn weights_mix_normalised_scores() {
        let v = [hit(1, 0.9, 1), hit(2, 0.1, 2)];
        let k = [hit(2, 0.2, 1), hit(1, 0.1, 2)];
        let fused = fuse(&v, &k, Fusion::weighted(Some(0.2), None));
        // id 2: 0.2 * 0.1 + 0.8 * 1.0 = 0.82; id 1: 0.2 * 0.9 + 0.8 * 0.5 = 0.58
        assert_eq!(fused[0].id, Uuid::from_u128(2));
        assert!((fused[0].score - 0.82).abs() < 1e-9);
        assert_eq!(
            Fusion::weighted(None, Some(0.3)),
            Fusion::Weighted {
                vector: 0.7,
                keyword: 0.3
            }
        );
    }
}
