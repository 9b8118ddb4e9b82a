//! Request bytes derived by hand from the protocol schemas, decoded answer fixtures, and decoders fed arbitrary
//! bytes.

use super::*;
use proptest::prelude::*;

/// Builds byte fixtures field by field, so each test reads like the schema it follows.
#[derive(Default)]
struct Bytes(Vec<u8>);

impl Bytes {
    fn i8(mut self, v: i8) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn i16(mut self, v: i16) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn i32(mut self, v: i32) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn i64(mut self, v: i64) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn str(self, s: &str) -> Self {
        let n = i16::try_from(s.len()).expect("short");
        let mut b = self.i16(n);
        b.0.extend_from_slice(s.as_bytes());
        b
    }
}

#[test]
fn request_frame_header_v1() {
    // ApiVersions v0, correlation id 7, client id "ksx", empty body:
    // size = 2 (api_key) + 2 (api_version) + 4 (correlation_id) + 2 + 3 (client_id) = 13 = 0x0d.
    let frame = encode_request(API_VERSIONS, 7, "ksx", &api_versions_request()).expect("encodes");
    assert_eq!(
        frame,
        [
            0, 0, 0, 13, // size
            0, 18, // api_key 18 (ApiVersions)
            0, 0, // api_version 0
            0, 0, 0, 7, // correlation_id
            0, 3, b'k', b's', b'x', // client_id
        ]
    );
}

#[test]
fn metadata_request_v4() {
    // topics: count 1, "orders" (length 6); allow_auto_topic_creation false (one byte 0).
    let body = metadata_request(&["orders".to_owned()]).expect("encodes");
    assert_eq!(
        body,
        [0, 0, 0, 1, 0, 6, b'o', b'r', b'd', b'e', b'r', b's', 0]
    );
    // Whole frame: header 2 + 2 + 4 + (2 + 3) = 13 bytes, body 13 bytes → size 26, 30 bytes with the prefix;
    // api_key 3, api_version 4, correlation_id 1.
    let frame = encode_request(METADATA, 1, "ksx", &body).expect("encodes");
    assert_eq!(
        frame.get(..12),
        Some(&[0, 0, 0, 26, 0, 3, 0, 4, 0, 0, 0, 1][..])
    );
    assert_eq!(frame.len(), 30);
}

#[test]
fn find_coordinator_request_v1() {
    // key "g1" (length 2), key_type 0 (group).
    assert_eq!(
        find_coordinator_request("g1").expect("encodes"),
        [0, 2, b'g', b'1', 0]
    );
}

#[test]
fn list_offsets_request_v2() {
    // replica_id -1 (ff ff ff ff), isolation_level 0, topics count 1, "t" (0 1 't'), partitions count 2,
    // then (partition 0, timestamp -1) and (partition 5, timestamp -1), each 4 + 8 bytes.
    let topics = TopicPartitions::from([("t".to_owned(), vec![0, 5])]);
    let body = list_offsets_request(&topics).expect("encodes");
    let mut want = vec![
        0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 2,
    ];
    want.extend_from_slice(&[0, 0, 0, 0]);
    want.extend_from_slice(&[0xff; 8]);
    want.extend_from_slice(&[0, 0, 0, 5]);
    want.extend_from_slice(&[0xff; 8]);
    assert_eq!(body, want);
}

#[test]
fn offset_fetch_request_v3() {
    // group "g" (0 1 'g'), then a null topic array: count -1.
    assert_eq!(
        offset_fetch_request("g", None).expect("encodes"),
        [0, 1, b'g', 0xff, 0xff, 0xff, 0xff]
    );
    // group "g", topics count 1, "t", partitions count 2: 0 and 1.
    let topics = TopicPartitions::from([("t".to_owned(), vec![0, 1])]);
    assert_eq!(
        offset_fetch_request("g", Some(&topics)).expect("encodes"),
        [
            0, 1, b'g', 0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1
        ]
    );
}

#[test]
fn names_too_long_are_refused() {
    let long = "x".repeat(40_000);
    assert!(matches!(
        find_coordinator_request(&long),
        Err(KafkaError::Unsupported(m)) if m.contains("40000 bytes")
    ));
}

#[test]
fn api_versions_answer() {
    let body = Bytes::default()
        .i16(0)
        .i32(2)
        .i16(3) // Metadata
        .i16(0)
        .i16(12)
        .i16(2) // ListOffsets
        .i16(1)
        .i16(8)
        .0;
    let v = decode_api_versions(&body).expect("decodes");
    assert_eq!(v.error_code, 0);
    assert!(v.supports(METADATA));
    assert!(v.supports(LIST_OFFSETS));
    assert!(!v.supports(OFFSET_FETCH));
    // A broker whose ListOffsets starts at v3 does not support ksx's v2.
    let old = ApiVersionsResponse {
        error_code: 0,
        api_keys: vec![ApiVersionRange {
            api_key: 2,
            min_version: 3,
            max_version: 9,
        }],
    };
    assert!(!old.supports(LIST_OFFSETS));
}

fn metadata_fixture() -> Vec<u8> {
    // Two brokers, one topic "orders" with partitions 0 (leader 1) and 1 (leader 2), one missing topic.
    Bytes::default()
        .i32(0) // throttle
        .i32(2)
        .i32(1)
        .str("b1")
        .i32(9092)
        .i16(-1) // rack null
        .i32(2)
        .str("b2")
        .i32(9093)
        .str("r1")
        .str("cluster") // cluster_id
        .i32(1) // controller
        .i32(2) // topics
        .i16(0)
        .str("orders")
        .i8(0)
        .i32(2)
        .i16(0)
        .i32(0)
        .i32(1)
        .i32(1)
        .i32(1)
        .i32(1)
        .i32(1)
        .i16(9) // REPLICA_NOT_AVAILABLE with a leader: still usable
        .i32(1)
        .i32(2)
        .i32(2)
        .i32(2)
        .i32(1)
        .i32(1)
        .i32(2)
        .i16(3) // UNKNOWN_TOPIC_OR_PARTITION
        .str("gone")
        .i8(0)
        .i32(0)
        .0
}

#[test]
fn metadata_answer() {
    let m = decode_metadata(&metadata_fixture()).expect("decodes");
    assert_eq!(m.brokers.len(), 2);
    assert_eq!(m.brokers[0].address(), "b1:9092");
    assert_eq!(m.brokers[1].rack.as_deref(), Some("r1"));
    assert_eq!(m.cluster_id.as_deref(), Some("cluster"));
    assert_eq!(m.topics[0].partitions[1].leader, 2);
    assert_eq!(m.topics[0].partitions[1].replicas, vec![2, 1]);
    assert_eq!(m.topics[0].partitions[1].isr, vec![2]);
    assert_eq!(
        (m.topics[1].name.as_str(), m.topics[1].error_code),
        ("gone", 3)
    );
    let v6 = MetadataBroker {
        node_id: 1,
        host: "::1".to_owned(),
        port: 9092,
        rack: None,
    };
    assert_eq!(v6.address(), "[::1]:9092");
}

#[test]
fn find_coordinator_answer() {
    let ok = Bytes::default()
        .i32(0)
        .i16(0)
        .i16(-1)
        .i32(2)
        .str("b2")
        .i32(9093)
        .0;
    let c = decode_find_coordinator(&ok).expect("decodes");
    assert_eq!((c.node_id, c.host.as_str(), c.port), (2, "b2", 9093));
    let err = Bytes::default()
        .i32(0)
        .i16(15)
        .str("loading")
        .i32(-1)
        .str("")
        .i32(-1)
        .0;
    let c = decode_find_coordinator(&err).expect("decodes");
    assert_eq!(c.error_code, 15);
    assert_eq!(
        KafkaCode(c.error_code).to_string(),
        "COORDINATOR_NOT_AVAILABLE (error 15)"
    );
    assert_eq!(KafkaCode(999).to_string(), "error code 999");
}

#[test]
fn list_offsets_answer() {
    let body = Bytes::default()
        .i32(0)
        .i32(1)
        .str("orders")
        .i32(2)
        .i32(0)
        .i16(0)
        .i64(-1)
        .i64(120)
        .i32(1)
        .i16(6) // NOT_LEADER_OR_FOLLOWER
        .i64(-1)
        .i64(-1)
        .0;
    let l = decode_list_offsets(&body).expect("decodes");
    assert_eq!(l.topics[0].0, "orders");
    assert_eq!(l.topics[0].1[0].offset, 120);
    assert_eq!(l.topics[0].1[1].error_code, 6);
}

#[test]
fn offset_fetch_answer() {
    // Partition 0 committed at 100, partition 1 with no committed offset (-1, metadata null).
    let body = Bytes::default()
        .i32(0)
        .i32(1)
        .str("orders")
        .i32(2)
        .i32(0)
        .i64(100)
        .str("")
        .i16(0)
        .i32(1)
        .i64(-1)
        .i16(-1)
        .i16(0)
        .i16(0) // top-level error_code
        .0;
    let o = decode_offset_fetch(&body).expect("decodes");
    assert_eq!(o.topics[0].1[0].committed_offset, 100);
    assert_eq!(o.topics[0].1[0].metadata.as_deref(), Some(""));
    assert_eq!(o.topics[0].1[1].committed_offset, -1);
    assert_eq!(o.topics[0].1[1].metadata, None);
    assert_eq!(o.error_code, 0);
}

#[test]
fn truncated_and_trailing_bytes_are_errors() {
    let body = metadata_fixture();
    let short = body.get(..body.len() - 1).expect("shorter");
    let e = decode_metadata(short).expect_err("truncated");
    assert!(
        e.to_string()
            .starts_with("malformed Metadata response: truncated")
    );
    let mut long = body.clone();
    long.push(0);
    let e = decode_metadata(&long).expect_err("trailing");
    assert!(e.to_string().contains("1 unexpected bytes"));
    // A huge array count is refused before anything is allocated.
    let huge = Bytes::default().i16(0).i32(i32::MAX).0;
    assert!(
        decode_api_versions(&huge)
            .expect_err("huge")
            .reason
            .contains("claims 2147483647 elements")
    );
}

proptest! {
    #[test]
    fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode_api_versions(&bytes);
        let _ = decode_metadata(&bytes);
        let _ = decode_find_coordinator(&bytes);
        let _ = decode_list_offsets(&bytes);
        let _ = decode_offset_fetch(&bytes);
        let _ = split_response_header(&bytes, METADATA);
    }

    #[test]
    fn decoders_never_panic_on_mutated_fixtures(at in 0usize..200, byte in any::<u8>(), cut in 0usize..200) {
        let mut b = metadata_fixture();
        let i = at % b.len();
        b[i] = byte;
        b.truncate(b.len() - cut % b.len());
        let _ = decode_metadata(&b);
    }
}
