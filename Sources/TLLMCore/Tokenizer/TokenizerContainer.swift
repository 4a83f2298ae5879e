// The tokenizer of a container (DESIGN §2): its `tokenizer.json` member is the normalized description; an
// importer builds it from the files it carried under `source/` (GGUF `tokenizer.*` metadata as typed JSON,
// or HF tokenizer.json + tokenizer_config.json). Readers prefer the normalized member and fall back to the
// source files, so containers written before the member existed still load.

extension Tokenizer {
    /// Member name of the normalized tokenizer in a container.
    public static let containerMember = "tokenizer.json"
    /// Member names of carried source files the tokenizer can be built from.
    public static let ggufSourceMember = "source/gguf-tokenizer.json"
    public static let hfSourceMember = "source/tokenizer.json"
    public static let hfConfigMember = "source/tokenizer_config.json"
    public static let sentencePieceSourceMember = "source/tokenizer.model"

    /// The tokenizer of a container's members: the normalized `tokenizer.json` if present, else one built from
    /// the `source/` files. `file` names the container in errors.
    public static func load(containerFiles files: [(name: String, bytes: [UInt8])], file: String = "") throws -> Tokenizer {
        if let m = files.first(where: { $0.name == containerMember }) {
            let j = try parseMember(m.bytes, file: file, member: m.name)
            do {
                return try Tokenizer(normalizedJSON: j, file: file)
            } catch let e as TLLMError {
                throw TLLMError(file, "member \(m.name): \(e.message)")
            }
        }
        guard let j = try normalizedTokenizerJSON(fromContainerFiles: files, file: file) else {
            throw TLLMError(file, "no tokenizer (neither a \(containerMember) member nor tokenizer files under source/)")
        }
        return try Tokenizer(normalizedJSON: j, file: file)
    }

    static func parseMember(_ bytes: [UInt8], file: String, member: String) throws -> JSON {
        do {
            return try bytes.withUnsafeBytes { try JSON.parse($0, file: file) }
        } catch let e as TLLMError {
            throw TLLMError(file, "member \(member): \(e.message)")
        }
    }
}

/// The normalized tokenizer JSON (the container's `tokenizer.json` member) built from the files an importer
/// carried: `source/gguf-tokenizer.json` (GGUF `tokenizer.*` metadata, typed JSON) or `source/tokenizer.json`
/// (+ `source/tokenizer_config.json`). Nil when there are no tokenizer files at all; throws when there are but
/// the tokenizer is unsupported (a SentencePiece `tokenizer.model` alone, an unknown model or pre-tokenizer).
public func normalizedTokenizerJSON(fromContainerFiles files: [(name: String, bytes: [UInt8])], file: String = "") throws -> JSON? {
    func member(_ n: String) -> [UInt8]? { files.first(where: { $0.name == n })?.bytes }
    if let g = member(Tokenizer.ggufSourceMember) {
        let j = try Tokenizer.parseMember(g, file: file, member: Tokenizer.ggufSourceMember)
        let meta = try GGUFValue.metadata(typedJSON: j, file: file)
        // A GGUF file without tokenizer metadata carries an empty object: no tokenizer, not an error.
        if meta.isEmpty { return nil }
        return try TokenizerSpec(ggufMetadata: meta, file: "\(file)[\(Tokenizer.ggufSourceMember)]").toJSON()
    }
    if let t = member(Tokenizer.hfSourceMember) {
        let j = try Tokenizer.parseMember(t, file: file, member: Tokenizer.hfSourceMember)
        let config = try member(Tokenizer.hfConfigMember).map { try Tokenizer.parseMember($0, file: file, member: Tokenizer.hfConfigMember) }
        return try TokenizerSpec(hfTokenizerJSON: j, config: config, file: "\(file)[\(Tokenizer.hfSourceMember)]").toJSON()
    }
    if member(Tokenizer.sentencePieceSourceMember) != nil {
        throw TLLMError(file, "tokenizer: only a SentencePiece tokenizer.model was carried; reading it is not supported (add the model's tokenizer.json)")
    }
    return nil
}
