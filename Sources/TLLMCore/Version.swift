// The toolkit's version, printed by every tool's --version and recorded as the producer in manifests.
public let tllmVersion = "0.1.0"
