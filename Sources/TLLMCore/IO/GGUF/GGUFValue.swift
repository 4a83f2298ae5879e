// GGUF metadata values: the 13 value types (u8 i8 u16 i16 u32 i32 f32 bool str array u64 i64 f64 = ids 0…12),
// arrays typed by their element type (nested arrays allowed), plus their binary encoding and two JSON forms:
//   plain  (`json`):      numbers, bools, strings, arrays — for printing; the GGUF types are lost.
//   typed  (`typedJSON`): {"type":"u32","value":5}, {"type":"array","elem":"f32","value":[0.5,1]}; scalar
//     arrays hold bare JSON values, nested arrays hold typed objects ({"type":"array","elem":"array","value":[{…}]}).
//     f32/f64 are JSON numbers that read back to the same bits; non-finite ones are strings of their bit pattern
//     ("0x7fc00000"); u64 above Int64.max is a decimal string. A metadata list is an object key → typed value.

public enum GGUFValueType: UInt32, Sendable, CaseIterable {
    case u8 = 0, i8, u16, i16, u32, i32, f32, bool, string, array, u64, i64, f64

    /// The name used in the typed JSON form.
    public var name: String {
        switch self {
        case .u8: return "u8"
        case .i8: return "i8"
        case .u16: return "u16"
        case .i16: return "i16"
        case .u32: return "u32"
        case .i32: return "i32"
        case .f32: return "f32"
        case .bool: return "bool"
        case .string: return "str"
        case .array: return "array"
        case .u64: return "u64"
        case .i64: return "i64"
        case .f64: return "f64"
        }
    }

    public init?(name: String) {
        guard let t = GGUFValueType.allCases.first(where: { $0.name == name }) else { return nil }
        self = t
    }

    /// Fewest bytes one value of this type takes in a file (a string: its length; an array: type and count).
    var minEncodedSize: Int {
        switch self {
        case .u8, .i8, .bool: return 1
        case .u16, .i16: return 2
        case .u32, .i32, .f32: return 4
        case .u64, .i64, .f64, .string: return 8
        case .array: return 12
        }
    }
}

public enum GGUFValue: Sendable, Equatable, CustomStringConvertible {
    case u8(UInt8), i8(Int8), u16(UInt16), i16(Int16), u32(UInt32), i32(Int32), u64(UInt64), i64(Int64)
    case f32(Float), f64(Double), bool(Bool), string(String)
    /// Elements all of type `elem` (for `.array`, each element is itself an array with its own element type).
    case array(elem: GGUFValueType, [GGUFValue])

    /// Deepest array nesting a reader accepts.
    public static let maxDepth = 16

    public var type: GGUFValueType {
        switch self {
        case .u8: return .u8
        case .i8: return .i8
        case .u16: return .u16
        case .i16: return .i16
        case .u32: return .u32
        case .i32: return .i32
        case .u64: return .u64
        case .i64: return .i64
        case .f32: return .f32
        case .f64: return .f64
        case .bool: return .bool
        case .string: return .string
        case .array: return .array
        }
    }

    /// Floats compare by bit pattern, so every value equals itself (NaN included) and round trips are exact.
    public static func == (a: GGUFValue, b: GGUFValue) -> Bool {
        switch (a, b) {
        case let (.u8(x), .u8(y)): return x == y
        case let (.i8(x), .i8(y)): return x == y
        case let (.u16(x), .u16(y)): return x == y
        case let (.i16(x), .i16(y)): return x == y
        case let (.u32(x), .u32(y)): return x == y
        case let (.i32(x), .i32(y)): return x == y
        case let (.u64(x), .u64(y)): return x == y
        case let (.i64(x), .i64(y)): return x == y
        case let (.f32(x), .f32(y)): return x.bitPattern == y.bitPattern
        case let (.f64(x), .f64(y)): return x.bitPattern == y.bitPattern
        case let (.bool(x), .bool(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.array(t, x), .array(u, y)): return t == u && x == y
        default: return false
        }
    }

    // MARK: access

    /// Any integer type (and bool as 0/1), when it fits in Int.
    public var int: Int? {
        switch self {
        case let .u8(v): return Int(v)
        case let .i8(v): return Int(v)
        case let .u16(v): return Int(v)
        case let .i16(v): return Int(v)
        case let .u32(v): return Int(v)
        case let .i32(v): return Int(v)
        case let .u64(v): return Int(exactly: v)
        case let .i64(v): return Int(v)
        case let .bool(v): return v ? 1 : 0
        default: return nil
        }
    }

    /// Any number, as a double.
    public var double: Double? {
        switch self {
        case let .f32(v): return Double(v)
        case let .f64(v): return v
        case let .u64(v): return Double(v)
        case .bool: return nil
        default: return int.map { Double($0) }
        }
    }

    public var string: String? { if case let .string(s) = self { return s }; return nil }
    public var bool: Bool? { if case let .bool(b) = self { return b }; return nil }
    public var array: [GGUFValue]? { if case let .array(_, a) = self { return a }; return nil }

    public var description: String {
        if case let .array(t, a) = self { return "[\(t.name) × \(a.count)]" }
        return json.text(pretty: false)
    }

    // MARK: plain JSON

    /// The value as plain JSON (for printing and for metadata that need not round-trip to GGUF).
    public var json: JSON {
        switch self {
        case let .u64(v): return v <= UInt64(Int64.max) ? .int(Int64(v)) : .double(Double(v))
        case let .f32(v): return .double(shortestDouble(v))
        case let .f64(v): return .double(v)
        case let .bool(v): return .bool(v)
        case let .string(s): return .string(s)
        case let .array(_, a): return .array(a.map { $0.json })
        default: return .int(Int64(int!))
        }
    }

    // MARK: typed JSON

    /// The value alone, as it appears inside an array of this type (bare for scalars, typed for arrays).
    private var bareJSON: JSON {
        switch self {
        case let .u64(v): return v <= UInt64(Int64.max) ? .int(Int64(v)) : .string(String(v))
        case let .f32(v): return v.isFinite ? .double(shortestDouble(v)) : .string(hexBits(UInt64(v.bitPattern), 8))
        case let .f64(v): return v.isFinite ? .double(v) : .string(hexBits(v.bitPattern, 16))
        case .array: return typedJSON
        default: return json
        }
    }

    /// The value in the typed JSON form described at the top of this file; `init(typedJSON:)` inverts it exactly.
    public var typedJSON: JSON {
        if case let .array(t, a) = self {
            return .object([("type", "array"), ("elem", .string(t.name)), ("value", .array(a.map { $0.bareJSON }))])
        }
        return .object([("type", .string(type.name)), ("value", bareJSON)])
    }

    public init(typedJSON j: JSON, file: String = "") throws {
        try self.init(typedJSON: j, file: file, depth: 0)
    }

    private init(typedJSON j: JSON, file: String, depth: Int) throws {
        guard let tn = j["type"]?.string, let t = GGUFValueType(name: tn), let v = j["value"] else {
            throw TLLMError(file, "typed GGUF value needs \"type\" (u8 … f64, str, array) and \"value\": \(j.text(pretty: false).prefix(80))")
        }
        guard t == .array else { self = try GGUFValue(bare: v, type: t, file: file, depth: depth); return }
        guard depth < GGUFValue.maxDepth else { throw TLLMError(file, "typed GGUF arrays nested more than \(GGUFValue.maxDepth) deep") }
        guard let en = j["elem"]?.string, let e = GGUFValueType(name: en) else {
            throw TLLMError(file, "typed GGUF array needs \"elem\", its element type")
        }
        guard let items = v.array else { throw TLLMError(file, "typed GGUF array: \"value\" is not a JSON array") }
        self = .array(elem: e, try items.map { try GGUFValue(bare: $0, type: e, file: file, depth: depth + 1) })
    }

    /// A value of type `t` from its bare JSON form.
    private init(bare v: JSON, type t: GGUFValueType, file: String, depth: Int) throws {
        func bad() -> TLLMError { TLLMError(file, "typed GGUF value: \(v.text(pretty: false).prefix(40)) is not a valid \(t.name)") }
        func integer<T: FixedWidthInteger>(_: T.Type) throws -> T {
            if case let .int(i) = v, let x = T(exactly: i) { return x }
            if case let .string(s) = v, let x = T(s) { return x }
            throw bad()
        }
        func float(_ bits: Int) throws -> UInt64? {
            if case let .string(s) = v, s.hasPrefix("0x"), s.count == 2 + bits / 4, let b = UInt64(s.dropFirst(2), radix: 16) { return b }
            guard v.double != nil else { throw bad() }
            return nil
        }
        switch t {
        case .u8: self = .u8(try integer(UInt8.self))
        case .i8: self = .i8(try integer(Int8.self))
        case .u16: self = .u16(try integer(UInt16.self))
        case .i16: self = .i16(try integer(Int16.self))
        case .u32: self = .u32(try integer(UInt32.self))
        case .i32: self = .i32(try integer(Int32.self))
        case .u64: self = .u64(try integer(UInt64.self))
        case .i64: self = .i64(try integer(Int64.self))
        case .f32: self = .f32(try float(32).map { Float(bitPattern: UInt32($0)) } ?? Float(v.double!))
        case .f64: self = .f64(try float(64).map { Double(bitPattern: $0) } ?? v.double!)
        case .bool: guard let b = v.bool else { throw bad() }; self = .bool(b)
        case .string: guard let s = v.string else { throw bad() }; self = .string(s)
        case .array: self = try GGUFValue(typedJSON: v, file: file, depth: depth)
        }
    }

    /// A metadata list as one JSON object, key → typed value, in order.
    public static func typedJSON(_ metadata: [(String, GGUFValue)]) -> JSON {
        .object(metadata.map { ($0.0, $0.1.typedJSON) })
    }

    /// The inverse of `typedJSON(_:)`.
    public static func metadata(typedJSON j: JSON, file: String = "") throws -> [(String, GGUFValue)] {
        guard let kv = j.object else { throw TLLMError(file, "typed GGUF metadata must be a JSON object") }
        return try kv.map { ($0.0, try GGUFValue(typedJSON: $0.1, file: file)) }
    }
}

/// The double whose shortest decimal text is that of `f` (prints as "0.1", not "0.10000000149011612"), when it
/// converts back to exactly `f`; otherwise `f` widened exactly.
private func shortestDouble(_ f: Float) -> Double {
    guard f.isFinite, let d = Double("\(f)"), Float(d).bitPattern == f.bitPattern else { return Double(f) }
    return d
}

private func hexBits(_ b: UInt64, _ digits: Int) -> String {
    let h = String(b, radix: 16)
    return "0x" + String(repeating: "0", count: digits - h.count) + h
}
