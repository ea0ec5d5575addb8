import Foundation
import Testing
@testable import Diffusion

/// `--precision auto`: bf16 only where the model's own convolutions time faster in it, and
/// the cache that keeps the timing per machine and model.
@Suite struct PrecisionChoiceTests {
    /// A choice from given timings (seconds of all convolutions, forward and backward).
    func choice(fp32: (Double, Double)?, bf16: (Double, Double)?, missing: String? = nil) -> PrecisionChoice {
        PrecisionChoice(fp32Backend: "onednn fp32 winograd", bf16Backend: "onednn bf16",
                        fp32: fp32.map { .init(forward: $0.0, backward: $0.1) }, bf16: bf16.map { .init(forward: $0.0, backward: $0.1) },
                        bf16Missing: missing, batch: 32, threads: 2, measuredAt: "2026-12-06 08:20 UTC", measuringSeconds: 2)
    }

    @Test("bf16 where the timed convolutions are at least 1.1x faster in it: train step for training, forward for sampling")
    func threshold() {
        // An AMX Xeon: forward 1.7x faster in bf16, backward slower; the train step still gains.
        let amx = choice(fp32: (1.0, 2.0), bf16: (0.59, 2.0))
        #expect(amx.precision(for: .sampling) == .bf16)
        #expect(amx.precision(for: .training) == .bf16)  // 3.0 / 2.59 = 1.16
        // Faster forward, much slower backward: sampling in bf16, training in fp32.
        let mixed = choice(fp32: (1.0, 2.0), bf16: (0.5, 2.6))
        #expect(mixed.precision(for: .sampling) == .bf16 && mixed.precision(for: .training) == .fp32)
        // Just under the margin stays fp32; just over takes bf16.
        #expect(choice(fp32: (1.09, 0), bf16: (1.0, 0)).precision(for: .sampling) == .fp32)
        #expect(choice(fp32: (1.11, 0), bf16: (1.0, 0)).precision(for: .sampling) == .bf16)
        // Nothing timed (no bf16 on this machine): fp32.
        #expect(choice(fp32: nil, bf16: nil, missing: "no AVX512-BF16").precision(for: .training) == .fp32)
    }

    @Test("the note says what was picked, both times, the ratio and when")
    func explanation() {
        let text = choice(fp32: (0.4, 1.06), bf16: (0.3, 0.8)).explanation(for: .training)
        #expect(text == "bf16: convolutions of one train step 1.100 s onednn bf16 vs 1.460 s onednn fp32 winograd "
                + "(x1.33, at least x1.10), batch 32 on 2 thread(s), measured 2026-12-06 08:20 UTC")
        #expect(choice(fp32: (1, 1), bf16: (1, 1)).explanation(for: .sampling)
                    .hasPrefix("fp32: convolutions of one forward pass 1.000 s onednn bf16 vs 1.000 s onednn fp32 winograd (x1.00, below x1.10)"))
        #expect(choice(fp32: nil, bf16: nil, missing: "this CPU has no AVX512-BF16").explanation(for: .training)
                    == "fp32: this CPU has no AVX512-BF16")
    }

    @Test("measured here: both precisions timed exactly where oneDNN runs bf16 convolutions")
    func measuredHere() {
        let (fp32, bf16, missing) = PrecisionChoice.candidates(.auto, .winograd)
        let measured = Parallel.withThreads(1) {
            PrecisionChoice.measure(config: TinyTraining.config, fp32: fp32, bf16: bf16, bf16Missing: missing)
        }
        #expect((measured.bf16 != nil) == (OneDNN.isAvailable && OneDNN.hasNativeBF16))
        #expect((measured.fp32 != nil) == (measured.bf16 != nil))
        #expect(measured.batch == 16 && measured.threads == 1)
        if let f = measured.fp32, let b = measured.bf16 { #expect(f.forward > 0 && f.backward > 0 && b.forward > 0 && b.backward > 0) }
        else { #expect(measured.bf16Missing != nil) }
    }

    @Test("the cache folder: $XDG_CACHE_HOME, else ~/.cache")
    func defaultFolder() {
        #expect(PrecisionCache.defaultFolder(environment: ["XDG_CACHE_HOME": "/c", "HOME": "/h"]) == "/c/fashion-diffusion/precision")
        #expect(PrecisionCache.defaultFolder(environment: ["HOME": "/h"]) == "/h/.cache/fashion-diffusion/precision")
        #expect(PrecisionCache.defaultFolder(environment: ["XDG_CACHE_HOME": "", "HOME": "/h"]) == "/h/.cache/fashion-diffusion/precision")
    }

    func key(cpu: String = "GenuineIntel family 6 model 207", features: [String] = ["avx2+fma", "avx512f", "avx512_bf16", "amx_bf16"],
             isa: String = "oneDNN 2.6.3 (avx512_core_amx)", threads: Int = 2) -> PrecisionCache.Key {
        PrecisionCache.Key(machine: MachineSignature(cpu: cpu, features: features, oneDNN: isa), fp32Backend: "onednn fp32 winograd",
                           bf16Backend: "onednn bf16", threads: threads, batch: 32, shapes: ["32x32 1->16 k3 s1 x1"])
    }

    @Test("a stored choice comes back for its key only: another CPU, feature set, oneDNN ISA or thread count misses")
    func cacheRoundTrip() throws {
        let cache = PrecisionCache(folder: try temporaryDirectory() + "/precision")
        let stored = choice(fp32: (1, 2), bf16: (0.5, 1.5))
        let path = try cache.store(stored, for: key())
        #expect(path.hasPrefix(cache.folder + "/auto-precision-") && path.hasSuffix(".json"))
        let (loaded, note) = cache.load(key())
        #expect(loaded == stored && note == nil)
        for other in [key(cpu: "AuthenticAMD family 25 model 17"), key(features: ["avx2+fma", "avx512f", "avx512_bf16"]),
                      key(isa: "oneDNN 2.6.3 (avx512_core_bf16)"), key(threads: 1)] {
            #expect(cache.load(other).choice == nil)
            #expect(try cache.path(for: other) != path)
        }
    }

    @Test("a corrupt or incomplete cache file is ignored with a note naming the file (and the field)")
    func corruptCache() throws {
        let cache = PrecisionCache(folder: try temporaryDirectory())
        let path = try cache.path(for: key())
        try FileBytes.writeAtomically(Array("{\"key\": ".utf8), to: path)
        let (none, note) = cache.load(key())
        #expect(none == nil)
        #expect(note?.hasPrefix("ignored the precision cache file \(path) (") == true)
        #expect(note?.hasSuffix("; measuring again") == true)
        // A file without the choice's fp32Backend.
        try cache.store(choice(fp32: (1, 1), bf16: (1, 1)), for: key())
        var object = try JSONSerialization.jsonObject(with: Data(try FileBytes.read(path))) as! [String: Any]
        var stored = object["choice"] as! [String: Any]
        stored["fp32Backend"] = nil
        object["choice"] = stored
        try FileBytes.writeAtomically(Array(try JSONSerialization.data(withJSONObject: object)), to: path)
        let missing = cache.load(key())
        #expect(missing.choice == nil)
        #expect(missing.note?.contains("missing fp32Backend") == true, "\(missing.note ?? "")")
    }

    @Test("cachedOrMeasured: measured and stored the first time, read back the second")
    func cachedOrMeasured() throws {
        let (fp32, bf16, missing) = PrecisionChoice.candidates(.auto, .winograd)
        let cache = PrecisionCache(folder: try temporaryDirectory())
        let first = Parallel.withThreads(1) {
            PrecisionChoice.cachedOrMeasured(config: TinyTraining.config, fp32: fp32, bf16: bf16, bf16Missing: missing, cache: cache)
        }
        let second = Parallel.withThreads(1) {
            PrecisionChoice.cachedOrMeasured(config: TinyTraining.config, fp32: fp32, bf16: bf16, bf16Missing: missing, cache: cache)
        }
        #expect(first.notes.isEmpty && second.notes.isEmpty)
        if case .oneDNN(.bf16, _) = bf16 {
            #expect(first.source.hasPrefix("measured now in ") && first.source.contains(", cached in \(cache.folder)/"))
            #expect(second.source.hasPrefix("cached in \(cache.folder)/"))
            #expect(second.choice == first.choice)
        } else {
            // No bf16 here: nothing to time, nothing cached.
            #expect(first.source == "nothing to time" && first.choice.fp32 == nil)
            #expect(try FileManager.default.contentsOfDirectory(atPath: cache.folder).isEmpty)
        }
    }

    @Test("the machine: vendor, family, model and name from /proc/cpuinfo's first processor")
    func machine() {
        let text = """
            processor\t: 0
            vendor_id\t: GenuineIntel
            cpu family\t: 6
            model\t\t: 207
            model name\t: Intel(R) Xeon(R) Platinum 8581C CPU @ 2.10GHz
            flags\t\t: fpu amx_bf16 amx_tile

            processor\t: 1
            vendor_id\t: Other
            """
        #expect(MachineSignature.cpu(fromCPUInfo: text)
                    == "GenuineIntel family 6 model 207 (Intel(R) Xeon(R) Platinum 8581C CPU @ 2.10GHz)")
        #expect(MachineSignature.cpu(fromCPUInfo: "").hasPrefix("unknown CPU"))
        let here = MachineSignature.current()
        #expect(here.features.contains("amx_bf16") == ArithmeticPeak.Loop.amxbf16.isSupported)
        #expect(here.description.contains("(no usable AMX)") == !ArithmeticPeak.Loop.amxbf16.isSupported)
    }
}
