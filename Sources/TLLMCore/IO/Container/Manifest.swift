// manifest.json, the first member of every tllm container (DESIGN §2): {format: "tllm", version, kind,
// producer, config, tensors: [{name, dtype, shape, member, extra?}], metadata}. Tensors are listed in the
// order their members follow in the tar. Parsing validates everything (a container is untrusted input):
// known kind and dtypes, member names relative and unique, shapes whose byte count fits in an Int.

/// What a container holds (DESIGN §1); "checkpoint" is tllm-distill's resumable training state.
public enum ContainerKind: String, Sendable, CaseIterable {
    case float, ternary, packed, calib, checkpoint
}

/// One tensor of a container: canonical name, element type, shape, and the tar member holding its bytes.
public struct ManifestTensor: Equatable, Sendable {
    public var name: String
    public var dtype: DType
    public var shape: [Int]
    /// Path of the tar member, `tensors/<name>` by default.
    public var member: String
    /// Anything a tool needs to interpret the bytes (e.g. a packed tensor's layout, DESIGN §10).
    public var extra: JSON?

    public init(name: String, dtype: DType, shape: [Int], member: String? = nil, extra: JSON? = nil) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.member = member ?? "tensors/\(name)"
        self.extra = extra
    }

    /// The entry describing `t`, with the default member name.
    public init(_ t: Tensor, extra: JSON? = nil) {
        self.init(name: t.name, dtype: t.dtype, shape: t.shape, extra: extra)
    }

    /// Bytes of the member (validated not to overflow when the manifest was built or parsed).
    public var byteCount: Int { TLLMCore.byteCount(shape, dtype) ?? 0 }
}

public struct Manifest: Equatable, Sendable {
    /// The major version this build writes and reads.
    public static let currentVersion = 1
    public static let memberName = "manifest.json"
    public static let checksumsName = "SHA256SUMS"

    public var format = "tllm"
    public var version = Manifest.currentVersion
    public var kind: ContainerKind
    /// Tool and version that wrote the container, e.g. "tllm-convert 0.1.0".
    public var producer: String
    /// The model architecture (schema: DESIGN §3).
    public var config: JSON
    public var tensors: [ManifestTensor]
    /// Tool-specific facts (fitting method, group size, losses…); always an object.
    public var metadata: JSON

    public init(kind: ContainerKind, producer: String, config: JSON = .object([]), tensors: [ManifestTensor] = [],
                metadata: JSON = .object([])) {
        self.kind = kind
        self.producer = producer
        self.config = config
        self.tensors = tensors
        self.metadata = metadata
    }

    /// The entry of the tensor called `name`.
    public func tensor(named name: String) -> ManifestTensor? { tensors.first { $0.name == name } }

    // MARK: JSON

    public func toJSON() -> JSON {
        let ts: [JSON] = tensors.map { t in
            var o: JSON = .object([
                ("name", .string(t.name)), ("dtype", .string(t.dtype.rawValue)),
                ("shape", .array(t.shape.map { JSON($0) })), ("member", .string(t.member)),
            ])
            if let e = t.extra { o.set("extra", e) }
            return o
        }
        return .object([
            ("format", .string(format)), ("version", JSON(version)), ("kind", .string(kind.rawValue)),
            ("producer", .string(producer)), ("config", config), ("tensors", .array(ts)), ("metadata", metadata),
        ])
    }

    /// The bytes of manifest.json (pretty-printed, newline-terminated).
    public func encoded() -> [UInt8] { Array((toJSON().text(pretty: true) + "\n").utf8) }

    /// Parses manifest.json text; `file` names the container in errors.
    public init(bytes: UnsafeRawBufferPointer, file: String) throws {
        try self.init(json: try JSON.parse(bytes, file: file), file: file)
    }

    public init(json: JSON, file: String) throws {
        func bad(_ why: String) -> TLLMError { TLLMError(file, "manifest.json: \(why)") }
        guard json.object != nil else { throw bad("not a JSON object") }
        guard let f = json["format"]?.string else { throw bad("missing \"format\" (is this a tllm container?)") }
        guard f == "tllm" else { throw bad("format is \"\(f)\", expected \"tllm\"") }
        guard let v = json["version"], case let .int(v64) = v else { throw bad("missing or non-integer \"version\"") }
        guard v64 >= 1 else { throw bad("invalid version \(v64)") }
        guard v64 <= Int64(Manifest.currentVersion) else {
            throw bad("container version \(v64) is newer than this tllm (reads version \(Manifest.currentVersion)); upgrade tllm")
        }
        version = Int(v64)
        guard let k = json["kind"]?.string else { throw bad("missing \"kind\"") }
        guard let kind = ContainerKind(rawValue: k) else {
            throw bad("unknown kind \"\(k)\" (expected float, ternary, packed, calib or checkpoint)")
        }
        self.kind = kind
        guard let p = json["producer"]?.string else { throw bad("missing or non-string \"producer\"") }
        producer = p
        let c = json["config"] ?? .object([])
        guard c.object != nil else { throw bad("\"config\" is not an object") }
        config = c
        let m = json["metadata"] ?? .object([])
        guard m.object != nil else { throw bad("\"metadata\" is not an object") }
        metadata = m
        guard let ts = json["tensors"]?.array else { throw bad("missing or non-array \"tensors\"") }
        var out: [ManifestTensor] = []
        out.reserveCapacity(ts.count)
        for (i, t) in ts.enumerated() {
            guard t.object != nil else { throw bad("tensors[\(i)] is not an object") }
            guard let name = t["name"]?.string, !name.isEmpty else { throw bad("tensors[\(i)]: missing or empty \"name\"") }
            func badT(_ why: String) -> TLLMError { bad("tensor \(name): \(why)") }
            guard let dn = t["dtype"]?.string else { throw badT("missing \"dtype\"") }
            guard let dt = DType(rawValue: dn) else {
                throw badT("unknown dtype \"\(dn)\" (expected one of \(DType.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            guard let sa = t["shape"]?.array else { throw badT("missing or non-array \"shape\"") }
            var shape: [Int] = []
            for d in sa {
                guard case let .int(x) = d, x >= 0, let xi = Int(exactly: x) else { throw badT("shape \(d.text(pretty: false)) is not a non-negative integer") }
                shape.append(xi)
            }
            guard let member = t["member"]?.string else { throw badT("missing \"member\"") }
            out.append(ManifestTensor(name: name, dtype: dt, shape: shape, member: member, extra: t["extra"]))
        }
        tensors = out
        try validate(file: file)
    }

    /// Checks the invariants a reader and writer rely on; throws naming the field.
    public func validate(file: String) throws {
        func bad(_ why: String) -> TLLMError { TLLMError(file, "manifest.json: \(why)") }
        guard format == "tllm" else { throw bad("format is \"\(format)\", expected \"tllm\"") }
        guard version >= 1, version <= Manifest.currentVersion else { throw bad("unsupported version \(version)") }
        guard config.object != nil else { throw bad("\"config\" is not an object") }
        guard metadata.object != nil else { throw bad("\"metadata\" is not an object") }
        var names = Set<String>(), members = Set<String>()
        for t in tensors {
            guard !t.name.isEmpty else { throw bad("a tensor has an empty name") }
            guard names.insert(t.name).inserted else { throw bad("tensor \(t.name) is listed twice") }
            guard byteCount(t.shape, t.dtype) != nil else {
                throw bad("tensor \(t.name): shape \(t.shape) of \(t.dtype.rawValue) overflows the byte count")
            }
            if let why = Manifest.memberNameProblem(t.member) { throw bad("tensor \(t.name): member \"\(t.member)\" \(why)") }
            guard t.member != Manifest.memberName, t.member != Manifest.checksumsName else {
                throw bad("tensor \(t.name): member name \"\(t.member)\" is reserved")
            }
            guard members.insert(t.member).inserted else { throw bad("member \"\(t.member)\" is used by two tensors") }
        }
    }

    /// Why `name` cannot be a member path (nil when it can): relative, printable ASCII, no "." or ".."
    /// components, no empty components, no backslash, at most 4096 bytes.
    public static func memberNameProblem(_ name: String) -> String? {
        let u = Array(name.utf8)
        if u.isEmpty { return "is empty" }
        if u.count > 4096 { return "is longer than 4096 bytes" }
        if u.contains(where: { $0 < 0x20 || $0 > 0x7E || $0 == UInt8(ascii: "\\") }) {
            return "must be printable ASCII without backslashes"
        }
        if u.first == UInt8(ascii: "/") { return "must be a relative path" }
        for part in name.split(separator: "/", omittingEmptySubsequences: false) {
            if part.isEmpty { return "has an empty path component" }
            if part == "." || part == ".." { return "must not contain \".\" or \"..\" components" }
        }
        return nil
    }
}
