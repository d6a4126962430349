//! OTLP trace messages in protobuf (the OTLP/HTTP default encoding): the few messages
//! Costroom reads, declared by hand with prost (no codegen), and their reading into
//! [`otlp::Span`]; the JSON encoding and the mapping of spans to events are in `domain::otlp`.
use prost::Message;

use crate::domain::otlp::{self, AttrValue};

/// The parts of opentelemetry-proto's trace messages Costroom reads (field numbers from
/// `opentelemetry/proto/trace/v1/trace.proto` and `common/v1/common.proto`); prost skips the
/// rest.
pub mod proto {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ExportTraceServiceRequest {
        #[prost(message, repeated, tag = "1")]
        pub resource_spans: Vec<ResourceSpans>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ResourceSpans {
        #[prost(message, optional, tag = "1")]
        pub resource: Option<Resource>,
        #[prost(message, repeated, tag = "2")]
        pub scope_spans: Vec<ScopeSpans>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Resource {
        #[prost(message, repeated, tag = "1")]
        pub attributes: Vec<KeyValue>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ScopeSpans {
        #[prost(message, repeated, tag = "2")]
        pub spans: Vec<Span>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Span {
        #[prost(bytes = "vec", tag = "1")]
        pub trace_id: Vec<u8>,
        #[prost(bytes = "vec", tag = "2")]
        pub span_id: Vec<u8>,
        #[prost(bytes = "vec", tag = "4")]
        pub parent_span_id: Vec<u8>,
        #[prost(string, tag = "5")]
        pub name: String,
        #[prost(fixed64, tag = "7")]
        pub start_time_unix_nano: u64,
        #[prost(fixed64, tag = "8")]
        pub end_time_unix_nano: u64,
        #[prost(message, repeated, tag = "9")]
        pub attributes: Vec<KeyValue>,
        #[prost(message, optional, tag = "15")]
        pub status: Option<Status>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Status {
        #[prost(string, tag = "2")]
        pub message: String,
        #[prost(int32, tag = "3")]
        pub code: i32,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct KeyValue {
        #[prost(string, tag = "1")]
        pub key: String,
        #[prost(message, optional, tag = "2")]
        pub value: Option<AnyValue>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct AnyValue {
        #[prost(oneof = "any_value::Value", tags = "1, 2, 3, 4")]
        pub value: Option<any_value::Value>,
    }
    pub mod any_value {
        #[derive(Clone, PartialEq, prost::Oneof)]
        pub enum Value {
            #[prost(string, tag = "1")]
            StringValue(String),
            #[prost(bool, tag = "2")]
            BoolValue(bool),
            #[prost(int64, tag = "3")]
            IntValue(i64),
            #[prost(double, tag = "4")]
            DoubleValue(f64),
        }
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ExportTraceServiceResponse {
        #[prost(message, optional, tag = "1")]
        pub partial_success: Option<ExportTracePartialSuccess>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ExportTracePartialSuccess {
        #[prost(int64, tag = "1")]
        pub rejected_spans: i64,
        #[prost(string, tag = "2")]
        pub error_message: String,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn attrs(kvs: &[proto::KeyValue]) -> Vec<(String, AttrValue)> {
    use proto::any_value::Value as V;
    kvs.iter()
        .filter_map(|kv| {
            let v = match kv.value.as_ref()?.value.as_ref()? {
                V::StringValue(s) => AttrValue::Str(s.clone()),
                V::BoolValue(b) => AttrValue::Bool(*b),
                V::IntValue(i) => AttrValue::Int(*i),
                V::DoubleValue(d) => AttrValue::Double(*d),
            };
            Some((kv.key.clone(), v))
        })
        .collect()
}

/// Spans of a protobuf `ExportTraceServiceRequest`.
pub fn spans_from_protobuf(bytes: &[u8]) -> Result<Vec<otlp::Span>, String> {
    let req = proto::ExportTraceServiceRequest::decode(bytes)
        .map_err(|e| format!("body: not an OTLP protobuf request ({e})"))?;
    let count: usize =
        req.resource_spans.iter().flat_map(|rs| &rs.scope_spans).map(|ss| ss.spans.len()).sum();
    if count > crate::domain::limits::MAX_BATCH_ITEMS {
        return Err(otlp::too_many_spans());
    }
    let mut out = Vec::with_capacity(count);
    for rs in &req.resource_spans {
        let resource =
            std::sync::Arc::new(rs.resource.as_ref().map(|r| attrs(&r.attributes)).unwrap_or_default());
        for ss in &rs.scope_spans {
            for s in &ss.spans {
                out.push(otlp::Span {
                    trace_id: hex(&s.trace_id),
                    span_id: hex(&s.span_id),
                    parent_span_id: hex(&s.parent_span_id),
                    name: s.name.clone(),
                    start_unix_nano: s.start_time_unix_nano,
                    end_unix_nano: s.end_time_unix_nano,
                    error: s.status.as_ref().is_some_and(|st| st.code == 2),
                    attributes: attrs(&s.attributes),
                    resource: resource.clone(),
                });
            }
        }
    }
    Ok(out)
}
