//! A clustered synthetic dataset: unit vectors around random centres, and
//! English or Chinese text drawn from each cluster's own vocabulary, so
//! vector, keyword and hybrid searches all have something to find.

use rand::{Rng, SeedableRng, rngs::StdRng};

use crate::config::EMBEDDING_DIMENSIONS;

const EN_WORDS: &[&str] = &[
    "detective",
    "rain",
    "alley",
    "suspect",
    "rooftop",
    "siren",
    "vault",
    "safecracker",
    "guard",
    "midnight",
    "jury",
    "attorney",
    "witness",
    "verdict",
    "spaceship",
    "orbit",
    "reactor",
    "captain",
    "cabin",
    "snow",
    "candle",
    "kitchen",
    "chef",
    "boxer",
    "punch",
    "ropes",
    "wedding",
    "ring",
    "priest",
    "desert",
    "dune",
    "soldier",
    "surgeon",
    "patient",
    "teacher",
    "classroom",
    "storm",
    "wave",
    "fisherman",
    "hacker",
    "firewall",
    "train",
    "platform",
    "farewell",
    "village",
    "grandmother",
    "forest",
    "sword",
    "temple",
    "monk",
    "market",
    "festival",
    "lantern",
    "river",
    "bridge",
    "harbor",
    "lighthouse",
    "island",
    "mountain",
    "glacier",
    "tunnel",
    "subway",
    "factory",
    "strike",
    "election",
    "senator",
    "newsroom",
    "reporter",
    "camera",
    "studio",
    "actor",
    "stage",
    "orchestra",
    "violin",
    "painter",
    "museum",
    "thief",
    "chase",
    "motorcycle",
    "garage",
    "racer",
    "circus",
    "clown",
    "magician",
    "castle",
    "dragon",
    "knight",
    "queen",
    "prison",
    "escape",
    "lawyer",
    "doctor",
    "nurse",
    "robot",
    "android",
    "virus",
    "laboratory",
    "scientist",
    "telescope",
    "comet",
    "astronaut",
    "moon",
];
const ZH_WORDS: &[&str] = &[
    "侦探", "雨夜", "小巷", "嫌疑", "屋顶", "警笛", "金库", "保安", "午夜", "陪审", "律师", "证人", "判决", "飞船",
    "轨道", "舰长", "木屋", "大雪", "蜡烛", "厨房", "主厨", "拳手", "婚礼", "戒指", "沙漠", "士兵", "医生", "病人",
    "老师", "教室", "风暴", "渔船", "黑客", "火车", "站台", "告别", "村庄", "祖母", "森林", "剑客", "寺庙", "和尚",
    "集市", "灯笼", "河流", "大桥", "港口", "灯塔", "海岛", "高山", "冰川", "隧道", "地铁", "工厂", "罢工", "选举",
    "记者", "相机", "演员", "舞台", "乐队", "提琴", "画家", "博物", "小偷", "追逐", "摩托", "车库", "马戏", "小丑",
    "魔术", "城堡", "巨龙", "骑士", "女王", "监狱", "越狱", "护士", "机器", "病毒", "实验", "科学", "望远", "彗星",
    "月球", "竹林", "客栈", "镖局", "江湖", "茶馆", "戏班",
];
const EN_FILLER: &[&str] = &[
    "the", "a", "and", "then", "slowly", "suddenly", "night", "light", "door", "voice",
];
const ZH_FILLER: &[&str] = &[
    "然后", "突然", "慢慢", "夜晚", "灯光", "大门", "声音", "一个", "我们", "他们",
];

/// Random unit vectors and text for clusters.
pub struct Generator {
    rng: StdRng,
    pub centers: Vec<Vec<f32>>,
    /// Noise around a centre (relative to the centre's unit length).
    pub spread: f32,
}

impl Generator {
    pub fn new(seed: u64, clusters: usize, spread: f32) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let centers = (0..clusters)
            .map(|_| normalise((0..EMBEDDING_DIMENSIONS).map(|_| gaussian(&mut rng)).collect()))
            .collect();
        Self { rng, centers, spread }
    }

    /// Restarts the random stream (the centres stay).
    pub fn reseed(&mut self, seed: u64) {
        self.rng = StdRng::seed_from_u64(seed);
    }

    pub fn rng(&mut self) -> &mut StdRng {
        &mut self.rng
    }

    /// A cluster index.
    pub fn cluster(&mut self) -> usize {
        self.rng.random_range(0..self.centers.len())
    }

    /// A unit vector near centre `c`.
    pub fn vector(&mut self, c: usize) -> Vec<f32> {
        let scale = self.spread / (EMBEDDING_DIMENSIONS as f32).sqrt();
        let center = &self.centers[c];
        let v: Vec<f32> = center.iter().map(|x| x + scale * gaussian(&mut self.rng)).collect();
        normalise(v)
    }

    /// A unit vector halfway between two clusters (a "hard" query).
    pub fn between(&mut self, a: usize, b: usize) -> Vec<f32> {
        let va = self.vector(a);
        let vb = self.vector(b);
        normalise(va.iter().zip(&vb).map(|(x, y)| x + y).collect())
    }

    /// A text of `words` words from cluster `c`'s vocabulary.
    pub fn text(&mut self, c: usize, chinese: bool, words: usize) -> String {
        let (vocab, filler) = if chinese {
            (ZH_WORDS, ZH_FILLER)
        } else {
            (EN_WORDS, EN_FILLER)
        };
        let mut out = Vec::with_capacity(words);
        for _ in 0..words {
            let w = if self.rng.random_bool(0.6) {
                vocab[(c * 7 + self.rng.random_range(0..6)) % vocab.len()]
            } else if self.rng.random_bool(0.5) {
                filler[self.rng.random_range(0..filler.len())]
            } else {
                vocab[self.rng.random_range(0..vocab.len())]
            };
            out.push(w);
        }
        if chinese {
            let mut s = out.concat();
            s.push('。');
            s
        } else {
            let mut s = out.join(" ");
            s.push('.');
            s
        }
    }

    /// A short query in cluster `c`'s vocabulary.
    pub fn query_text(&mut self, c: usize, chinese: bool) -> String {
        let vocab = if chinese { ZH_WORDS } else { EN_WORDS };
        let picks: Vec<&str> = (0..3)
            .map(|_| vocab[(c * 7 + self.rng.random_range(0..6)) % vocab.len()])
            .collect();
        if chinese { picks.concat() } else { picks.join(" ") }
    }
}

/// A standard normal sample (Box-Muller).
pub fn gaussian(rng: &mut impl Rng) -> f32 {
    let u1: f32 = rng.random_range(f32::EPSILON..1.0);
    let u2: f32 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

pub fn normalise(mut v: Vec<f32>) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
    v
}

/// Cosine similarity of unit vectors.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
