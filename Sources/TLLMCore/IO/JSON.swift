// JSON values parsed and printed with json-c (manifests, config.json, tokenizer files, safetensors headers).
// Objects keep their key order (json-c iterates in insertion order), so manifests print in a stable order.
// Integers stay exact to 64 bits; numbers with a fraction or exponent are doubles.

import CJSONC
import Foundation

public indirect enum JSON: Equatable, Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSON])
    case object([(String, JSON)])

    public static func == (a: JSON, b: JSON) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.int(x), .int(y)): return x == y
        case let (.double(x), .double(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.array(x), .array(y)): return x == y
        case let (.object(x), .object(y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    // MARK: access

    public subscript(key: String) -> JSON? {
        if case let .object(kv) = self { return kv.last(where: { $0.0 == key })?.1 }
        return nil
    }

    public var string: String? { if case let .string(s) = self { return s }; return nil }
    public var bool: Bool? { if case let .bool(b) = self { return b }; return nil }
    public var array: [JSON]? { if case let .array(a) = self { return a }; return nil }
    public var object: [(String, JSON)]? { if case let .object(o) = self { return o }; return nil }
    public var isNull: Bool { if case .null = self { return true }; return false }

    /// An integer value (a double with no fraction counts).
    public var int: Int? {
        switch self {
        case let .int(i): return Int(exactly: i)
        case let .double(d): return d.rounded() == d && abs(d) < 9e15 ? Int(d) : nil
        default: return nil
        }
    }

    public var double: Double? {
        switch self {
        case let .int(i): return Double(i)
        case let .double(d): return d
        default: return nil
        }
    }

    /// Sets (or appends) `key` in an object.
    public mutating func set(_ key: String, _ value: JSON) {
        guard case var .object(kv) = self else { return }
        if let i = kv.firstIndex(where: { $0.0 == key }) { kv[i].1 = value } else { kv.append((key, value)) }
        self = .object(kv)
    }

    // MARK: parse

    /// Parses JSON text; `file` names the source in errors.
    public static func parse(_ bytes: UnsafeRawBufferPointer, file: String) throws -> JSON {
        guard bytes.count < Int(Int32.max) else { throw TLLMError(file, "JSON text too large") }
        let tok = json_tokener_new_ex(64)!
        defer { json_tokener_free(tok) }
        json_tokener_set_flags(tok, Int32(JSON_TOKENER_STRICT))
        guard let base = bytes.baseAddress, bytes.count > 0 else { throw TLLMError(file, "malformed JSON: empty text") }
        let obj = json_tokener_parse_ex(tok, base.assumingMemoryBound(to: CChar.self), Int32(bytes.count))
        let err = json_tokener_get_error(tok)
        guard err == json_tokener_success, let obj else {
            let why = err == json_tokener_continue ? "unexpected end of text" : String(cString: json_tokener_error_desc(err))
            if let obj { json_object_put(obj) }
            throw TLLMError(file, "malformed JSON: \(why)")
        }
        defer { json_object_put(obj) }
        let end = Int(json_tokener_get_parse_end(tok))
        if end < bytes.count, bytes[end...].contains(where: { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09) }) {
            throw TLLMError(file, "malformed JSON: trailing data after offset \(end)")
        }
        return try convert(obj, file: file, depth: 0)
    }

    public static func parse(_ text: String, file: String) throws -> JSON {
        var t = text
        return try t.withUTF8 { try parse(UnsafeRawBufferPointer($0), file: file) }
    }

    public static func parse(contentsOf path: String) throws -> JSON {
        let m = try MappedFile(path: path)
        return try parse(m.bytes, file: path)
    }

    private static func convert(_ o: OpaquePointer?, file: String, depth: Int) throws -> JSON {
        guard let o else { return .null }
        guard depth < 512 else { throw TLLMError(file, "JSON nested too deeply") }
        switch json_object_get_type(o) {
        case json_type_null: return .null
        case json_type_boolean: return .bool(json_object_get_boolean(o) != 0)
        case json_type_int:
            // json-c keeps uint64 values above Int64.max as unsigned; they do not fit our model, clamp by error.
            if json_object_get_int64(o) == Int64.max, json_object_get_uint64(o) > UInt64(Int64.max) {
                throw TLLMError(file, "JSON integer \(json_object_get_uint64(o)) out of range")
            }
            return .int(json_object_get_int64(o))
        case json_type_double: return .double(json_object_get_double(o))
        case json_type_string:
            let len = Int(json_object_get_string_len(o))
            let p = json_object_get_string(o)!
            let s = p.withMemoryRebound(to: UInt8.self, capacity: len) {
                String(decoding: UnsafeBufferPointer(start: $0, count: len), as: UTF8.self)
            }
            return .string(s)
        case json_type_array:
            let n = json_object_array_length(o)
            var a: [JSON] = []
            a.reserveCapacity(n)
            for i in 0..<n { a.append(try convert(json_object_array_get_idx(o, i), file: file, depth: depth + 1)) }
            return .array(a)
        case json_type_object:
            var kv: [(String, JSON)] = []
            var it = json_object_iter_begin(o)
            var end = json_object_iter_end(o)
            while json_object_iter_equal(&it, &end) == 0 {
                let k = String(cString: json_object_iter_peek_name(&it))
                kv.append((k, try convert(json_object_iter_peek_value(&it), file: file, depth: depth + 1)))
                json_object_iter_next(&it)
            }
            return .object(kv)
        default:
            throw TLLMError(file, "unknown JSON value type")
        }
    }

    // MARK: print

    /// JSON text; `pretty` indents by two spaces. Keys keep their order.
    public func text(pretty: Bool = true) -> String {
        let o = JSON.make(self)
        defer { json_object_put(o) }
        let flags = (pretty ? (JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED) : JSON_C_TO_STRING_PLAIN) | JSON_C_TO_STRING_NOSLASHESCAPE
        return String(cString: json_object_to_json_string_ext(o, Int32(flags)))
    }

    private static func make(_ v: JSON) -> OpaquePointer? {
        switch v {
        case .null: return nil
        case let .bool(b): return json_object_new_boolean(b ? 1 : 0)
        case let .int(i): return json_object_new_int64(i)
        case let .double(d):
            // Shortest text that reads back to the same double (json-c's default "%.17g" is noisy).
            if d.isFinite {
                var s = "\(d)"
                if s.hasSuffix(".0") { s.removeLast(2); s += ".0" }
                return json_object_new_double_s(d, s)
            }
            return nil  // NaN/inf are not JSON; print null
        case let .string(s): return json_object_new_string_len(s, Int32(s.utf8.count))
        case let .array(a):
            let o = json_object_new_array_ext(Int32(a.count))
            for e in a { json_object_array_add(o, make(e)) }
            return o
        case let .object(kv):
            let o = json_object_new_object()
            for (k, e) in kv { json_object_object_add(o, k, make(e)) }
            return o
        }
    }
}

extension JSON: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByFloatLiteral
{
    public init(stringLiteral s: String) { self = .string(s) }
    public init(integerLiteral i: Int) { self = .int(Int64(i)) }
    public init(booleanLiteral b: Bool) { self = .bool(b) }
    public init(arrayLiteral a: JSON...) { self = .array(a) }
    public init(floatLiteral d: Double) { self = .double(d) }
    public init(_ i: Int) { self = .int(Int64(i)) }
}
