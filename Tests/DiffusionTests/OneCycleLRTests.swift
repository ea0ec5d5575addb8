import Testing
@testable import Diffusion

@Suite struct OneCycleLRTests {
    let s = OneCycleLR(maxLR: 1e-2, totalSteps: 1000)

    @Test func endpointsFollowPyTorchDefaults() {
        // PyTorch OneCycleLR: initial lr = max_lr / div_factor, final = initial / final_div_factor,
        // peak at step pct_start * total - 1; momentum 0.95 -> 0.85 -> 0.95.
        let start = s.values(at: 0)
        #expect(abs(start.lr - 4e-4) < 1e-15)
        #expect(abs(start.beta1 - 0.95) < 1e-15)
        let peak = s.values(at: 299)
        #expect(abs(peak.lr - 1e-2) < 1e-15)
        #expect(abs(peak.beta1 - 0.85) < 1e-15)
        let end = s.values(at: 999)
        #expect(abs(end.lr - 4e-8) < 1e-18)
        #expect(abs(end.beta1 - 0.95) < 1e-15)
    }

    @Test func cosineMidpoints() {
        // Halfway through phase 1 (step 149.5 of 299) the cosine is at its midpoint.
        let mid1 = s.values(at: 150)
        let pct = 150.0 / 299.0
        let expected = 1e-2 + (4e-4 - 1e-2) / 2 * (cos(Double.pi * pct) + 1)
        #expect(abs(mid1.lr - expected) < 1e-15)
        #expect(mid1.lr > 4e-4 && mid1.lr < 1e-2)
    }

    @Test func monotonePhases() {
        for i in 1...299 { #expect(s.values(at: i).lr > s.values(at: i - 1).lr) }
        for i in 300...999 { #expect(s.values(at: i).lr < s.values(at: i - 1).lr) }
    }
}

import Foundation
