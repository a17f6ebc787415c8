// `agora-libfuzzer`: the fuzz targets under libFuzzer (coverage-guided), one target per run,
// named by AGORA_FUZZ_TARGET; the arguments are libFuzzer's own (corpus directories, -runs=,
// -max_total_time=). `scripts/libfuzzer.sh` builds it with coverage instrumentation and
// AddressSanitizer and links libFuzzer's driver; a plain `swift build` makes a binary that only
// says so, since without that instrumentation libFuzzer would be blind.
import AgoraFuzz
#if canImport(Glibc)
import Glibc
#endif

#if AGORA_LIBFUZZER
/// libFuzzer's driver (libclang_rt.fuzzer_no_main): parses its flags from argv and calls the
/// callback with each input, until a crash, a finding or its limits.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

let selected: FuzzTarget = {
    let name = getenv("AGORA_FUZZ_TARGET").map { String(cString: $0) } ?? ""
    guard let target = FuzzTarget.named(name) else {
        print("set AGORA_FUZZ_TARGET to one of: \(FuzzTarget.all.map(\.name).joined(separator: " "))")
        exit(2)
    }
    return target
}()

var argc = CommandLine.argc
var argv = Optional(CommandLine.unsafeArgv)
exit(withUnsafeMutablePointer(to: &argv) { argvPointer in
    LLVMFuzzerRunDriver(&argc, argvPointer) { data, size in
        let bytes = size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size))
        // A broken invariant is a finding like a crash: abort, so libFuzzer keeps the input.
        if let problem = selected.check(bytes) {
            print("finding: \(problem)")
            abort()
        }
        return 0
    }
})
#else
print("agora-libfuzzer was built without libFuzzer; build and run it with scripts/libfuzzer.sh")
exit(2)
#endif
