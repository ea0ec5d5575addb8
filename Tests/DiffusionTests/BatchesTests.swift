import Diffusion
import Testing

@Suite struct BatchesTests {
    @Test func permutationCoversEveryIndexOnce() {
        let plan = EpochPlan(datasetSize: 60_000, globalBatch: 128, seed: 42, epoch: 3)
        #expect(plan.order.count == 60_000)
        #expect(Set(plan.order).count == 60_000)
        #expect(plan.order.min() == 0 && plan.order.max() == 59_999)
        #expect(plan.order != Array(0..<60_000))
    }

    @Test func batchCountsAndLastPartialBatch() {
        let keep = EpochPlan(datasetSize: 60_000, globalBatch: 128, seed: 1, epoch: 0)
        #expect(keep.batchCount == 469)
        #expect(keep.batchSize(467) == 128)
        #expect(keep.batchSize(468) == 96)
        let drop = EpochPlan(datasetSize: 60_000, globalBatch: 128, seed: 1, epoch: 0, dropLast: true)
        #expect(drop.batchCount == 468)
        #expect(drop.order == keep.order)
        // Batches tile the order.
        #expect((0..<keep.batchCount).flatMap { keep.batch($0) } == keep.order)
        #expect(EpochPlan(datasetSize: 256, globalBatch: 128, seed: 1, epoch: 0).batchCount == 2)
    }

    @Test func sameSeedSamePlanOtherEpochOrSeedAnother() {
        let a = EpochPlan(datasetSize: 1000, globalBatch: 64, seed: 7, epoch: 2)
        let b = EpochPlan(datasetSize: 1000, globalBatch: 64, seed: 7, epoch: 2)
        #expect(a.order == b.order)
        #expect(a.order != EpochPlan(datasetSize: 1000, globalBatch: 64, seed: 7, epoch: 3).order)
        #expect(a.order != EpochPlan(datasetSize: 1000, globalBatch: 64, seed: 8, epoch: 2).order)
        // The permutation is RandomStream(seed, key: epoch)'s.
        var random = RandomStream(seed: 7, key: 2)
        #expect(a.order == random.permutation(1000))
    }

    @Test(arguments: [1, 2, 3, 4, 5, 7])
    func rankSlicesAreDisjointAndCoverTheBatch(size: Int) {
        let plan = EpochPlan(datasetSize: 1000, globalBatch: 128, seed: 3, epoch: 1)
        // 7 full batches of 128 and a last one of 104: remainders of 0..6 across sizes.
        for b in 0..<plan.batchCount {
            let batch = Array(plan.batch(b))
            var joined: [Int] = []
            var previousEnd = 0
            for rank in 0..<size {
                let r = plan.sliceRange(batch: b, rank: rank, size: size)
                #expect(r.lowerBound == previousEnd, "contiguous, in rank order")
                previousEnd = r.upperBound
                let count = batch.count
                #expect(r.count == count / size + (rank < count % size ? 1 : 0))
                let slice = plan.slice(batch: b, rank: rank, size: size)
                #expect(slice == Array(batch[r]))
                joined += slice
            }
            #expect(joined == batch)
        }
    }

    @Test func unevenShares() {
        #expect(EpochPlan.share(count: 10, rank: 0, size: 3) == 0..<4)
        #expect(EpochPlan.share(count: 10, rank: 1, size: 3) == 4..<7)
        #expect(EpochPlan.share(count: 10, rank: 2, size: 3) == 7..<10)
        #expect(EpochPlan.share(count: 96, rank: 1, size: 5) == 20..<39)
        #expect(EpochPlan.share(count: 2, rank: 2, size: 3) == 2..<2)  // more ranks than items
    }

    @Test func gatherBuildsTheBatchTensor() {
        let set = Tensor(shape: [5, 2, 2, 1], values: (0..<20).map(Float.init))
        let batch = set.gather([3, 0, 3])
        #expect(batch.shape == [3, 2, 2, 1])
        #expect(batch.array == [12, 13, 14, 15, 0, 1, 2, 3, 12, 13, 14, 15])
        let dataset = Dataset(images: [UInt8](repeating: 0, count: 5 * 4), labels: [4, 3, 2, 1, 0], count: 5, rows: 2, columns: 2)
        #expect(dataset.labels(at: [3, 0]) == [1, 4])
    }
}
