//! Bytes to text: a byte-order mark decides (UTF-8, UTF-16 LE/BE); else
//! valid UTF-8 is UTF-8; else the encoding is guessed (chardetng, the
//! detector Firefox uses: GBK/GB18030, Big5, Shift_JIS, EUC-KR, the
//! Windows code pages…) and the bytes converted with encoding_rs.

use encoding_rs::{Encoding, UTF_8};

/// Decoded text and the name of the encoding it was in (`UTF-8`,
/// `UTF-16LE`, `GB18030`, `Big5`…).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub text: String,
    pub encoding: &'static str,
}

/// The text of `bytes`, or why they are not text.
pub fn decode(bytes: &[u8]) -> Result<Decoded, String> {
    if let Some((encoding, bom)) = Encoding::for_bom(bytes) {
        return convert(&bytes[bom..], encoding);
    }
    if bytes.contains(&0) {
        return Err("binary file (contains NUL bytes)".into());
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return non_empty(text.to_owned(), UTF_8);
    }
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    detector.feed(bytes, true);
    let guessed = detector.guess(None, chardetng::Utf8Detection::Deny);
    convert(bytes, guessed)
}

fn convert(bytes: &[u8], encoding: &'static Encoding) -> Result<Decoded, String> {
    let (text, malformed) = encoding.decode_without_bom_handling(bytes);
    if malformed {
        return Err(format!(
            "not valid text in any known encoding (closest: {})",
            name(encoding)
        ));
    }
    if text.contains('\0') {
        return Err("binary file (contains NUL characters)".into());
    }
    non_empty(text.into_owned(), encoding)
}

fn non_empty(text: String, encoding: &'static Encoding) -> Result<Decoded, String> {
    if text.trim().is_empty() {
        return Err("empty".into());
    }
    Ok(Decoded {
        text,
        encoding: name(encoding),
    })
}

/// GBK is decoded as its superset GB18030 (encoding_rs does the same), so
/// name it that way.
fn name(encoding: &'static Encoding) -> &'static str {
    match encoding.name() {
        "GBK" => "GB18030",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unicode_with_and_without_marks() {
        assert_eq!(decode(b"\xef\xbb\xbfhello").unwrap().text, "hello");
        assert_eq!(decode("雨夜".as_bytes()).unwrap().encoding, "UTF-8");
        let utf16: Vec<u8> = [0xff, 0xfe]
            .into_iter()
            .chain("渡船 ok".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        assert_eq!(
            decode(&utf16).unwrap(),
            Decoded {
                text: "渡船 ok".into(),
                encoding: "UTF-16LE"
            }
        );
    }

    #[test]
    fn chinese_code_pages_are_recognised() {
        let text = "青石板路上的油纸伞，老槐树下的说书人讲着旧城的故事。雨夜里，茶馆的灯还亮着。";
        let (gbk, _, _) = encoding_rs::GB18030.encode(text);
        assert!(std::str::from_utf8(&gbk).is_err());
        let decoded = decode(&gbk).unwrap();
        assert_eq!((decoded.text.as_str(), decoded.encoding), (text, "GB18030"));
        let traditional = "茶館裡的說書先生講著舊城的故事，雨夜裡燈還亮著，客人們靜靜地聽。";
        let (big5, _, _) = encoding_rs::BIG5.encode(traditional);
        let decoded = decode(&big5).unwrap();
        assert_eq!((decoded.text.as_str(), decoded.encoding), (traditional, "Big5"));
    }

    #[test]
    fn binary_and_empty_are_refused() {
        assert!(decode(b"a\0b").unwrap_err().contains("binary"));
        assert_eq!(decode(b" \n").unwrap_err(), "empty");
    }
}
