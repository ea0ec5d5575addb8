import Diffusion
import Testing

@Suite struct ScalingForecastTests {
    let cost = RingAllreduceCost(alpha: 20e-6, beta: 1.25e9)

    @Test func ringAllreduceTime() {
        let n = 63.6e6
        #expect(cost.seconds(ranks: 1, bytes: n) == 0)
        // Two ranks: one step each way, each of n/2 bytes.
        #expect(abs(cost.seconds(ranks: 2, bytes: n) - (2 * 20e-6 + n / 1.25e9)) < 1e-12)
        // The bandwidth term tends to 2n/β; the latency term grows as 2(p-1)α.
        let t256 = cost.seconds(ranks: 256, bytes: n)
        #expect(abs(t256 - (510 * 20e-6 + 510.0 / 256 * n / 1.25e9)) < 1e-12)
        #expect(t256 < 2 * n / 1.25e9 + 510 * 20e-6 + 1e-12)
    }

    @Test func fitRecoversAlphaAndBeta() throws {
        let bytes: [Double] = [4, 64, 1024, 1_048_576, 67_108_864]
        for p in [2, 4] {
            let seconds = bytes.map { cost.seconds(ranks: p, bytes: $0) }
            let fit = try #require(RingAllreduceCost.fit(ranks: p, bytes: bytes, seconds: seconds))
            // α absorbs the 4 bytes' tiny bandwidth term; β is then exact to that error.
            #expect(abs(fit.alpha - cost.alpha) / cost.alpha < 1e-3)
            #expect(abs(fit.beta - cost.beta) / cost.beta < 1e-3)
        }
        #expect(RingAllreduceCost.fit(ranks: 1, bytes: bytes, seconds: [1, 1, 1, 1, 1]) == nil)
        // A disturbed smallest size does not set α: the fastest latency-bound size (64 B,
        // whose bandwidth term adds 0.1%) does.
        var seconds = bytes.map { cost.seconds(ranks: 2, bytes: $0) }
        seconds[0] *= 10
        let fit = try #require(RingAllreduceCost.fit(ranks: 2, bytes: bytes, seconds: seconds))
        #expect(abs(fit.alpha - cost.alpha) / cost.alpha < 1e-2)
    }

    func forecast(secondsPerImage: Double = 0.01, forwardFraction: Double = 1.0 / 3, bucketBytes: Double = 16.777216e6) -> DataParallelStepForecast {
        DataParallelStepForecast(secondsPerImage: secondsPerImage, forwardFraction: forwardFraction,
                              gradientBytes: 63.6e6, bucketBytes: bucketBytes, allreduce: cost)
    }

    @Test func bucketsCoverTheGradient() {
        let buckets = forecast().buckets
        #expect(buckets.count == 4)
        #expect(abs(buckets.reduce(0, +) - 63.6e6) < 1)
        #expect(buckets.last! < buckets.first!)
    }

    @Test func serialAndOverlappedSteps() {
        let m = forecast()
        for p in [8, 64, 256] {
            for b in [1, 16, 128] {
                let r = m.predict(ranks: p, batchPerRank: b)
                #expect(abs(r.serialStepSeconds - (r.computeSeconds + r.allreduceSeconds)) < 1e-12)
                // Overlap never hurts, never hides the last bucket, never beats the link.
                #expect(r.overlappedStepSeconds <= r.serialStepSeconds + 1e-12)
                #expect(r.overlappedStepSeconds >= r.computeSeconds + r.lastBucketSeconds - 1e-12)
                #expect(r.overlappedStepSeconds >= r.computeSeconds / 3 + r.allreduceSeconds - 1e-9)
                #expect(r.overlappedEfficiency >= r.serialEfficiency)
            }
        }
        // One rank: nothing to send.
        #expect(m.predict(ranks: 1, batchPerRank: 16).serialEfficiency == 1)
    }

    @Test func instantForwardAndTinyBucketsGiveComputeOverMax() {
        // The textbook bound: efficiency = compute / max(compute, comm).
        let m = forecast(forwardFraction: 0, bucketBytes: 63.6e6 / 1000)
        let r = m.predict(ranks: 16, batchPerRank: 4)
        let comm = r.allreduceSeconds
        #expect(abs(r.overlappedEfficiency - r.computeSeconds / max(r.computeSeconds, comm)) < 0.02)
    }

    @Test func largerBatchesScaleBetter() throws {
        let m = forecast()
        let serial = try #require(m.minimumBatchPerRank(ranks: 64, target: 0.9, overlapped: false))
        let overlapped = try #require(m.minimumBatchPerRank(ranks: 64, target: 0.9, overlapped: true))
        #expect(overlapped <= serial)
        #expect(m.predict(ranks: 64, batchPerRank: serial).serialEfficiency >= 0.9)
        #expect(m.predict(ranks: 64, batchPerRank: serial - 1).serialEfficiency < 0.9)
        // Serial: compute / (compute + T) >= 0.9  <=>  b >= 9 T / secondsPerImage.
        let t = m.predict(ranks: 64, batchPerRank: 1).allreduceSeconds
        #expect(serial == Int((9 * t / 0.01).rounded(.up)))
    }
}
