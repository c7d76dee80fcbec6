//! Vector, keyword and hybrid search through the API and the SQL functions.

mod counting;
mod hybrid;
mod inputs;
mod keyword;
mod migration;
mod outage;
mod phrases;
mod rerank;
mod resident;
mod retrievals;
mod stores;
mod vector;

use rand::{Rng, rngs::StdRng};

pub(super) fn random_unit(rng: &mut StdRng) -> Vec<f32> {
    let v: Vec<f32> = (0..1536).map(|_| rng.random_range(-1.0f32..1.0)).collect();
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.into_iter().map(|x| x / n).collect()
}

pub(super) fn vec_literal(v: &[f32]) -> String {
    format!("[{}]", v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(","))
}
