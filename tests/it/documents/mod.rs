//! Reference documents through the real API, and `screenplay ingest`.

mod changes;
mod cli;
mod extraction;
mod ingest;
mod lists;
mod upload;

pub(super) const LEXICAL: &str = "screenplay-lexical-v1";

pub(super) fn chinese_story() -> String {
    ["一", "二", "三", "四", "五", "六"]
        .iter()
        .map(|n| format!("第{n}夜，夜色笼罩着整座城市，侦探沿着湿漉漉的街道慢慢前行。他在寻找一个失踪多年的证人。\n\n"))
        .collect()
}
