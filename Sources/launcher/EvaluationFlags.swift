import ArgumentParser
import Diffusion

/// `launcher train`'s evaluation while training: when, how many images, which sampler.
/// Evaluations sample from the EMA weights (the raw ones without an EMA) and score FID and
/// KID against the real test images with the committed classifier (`TrainingEvaluation`).
struct EvaluationFlags: ParsableArguments {
    @Option(help: ArgumentHelp("Evaluate every N optimizer steps, or every so much training time (90s, 2m; evaluations "
                               + "not counted), and at the end: FID and KID of --eval-n samples, a grid in eval/, "
                               + "evaluations.jsonl and fid.png. Default: no evaluation.", valueName: "steps|duration"))
    var evalEvery: String?
    @Option(help: "Images per evaluation, in 2...100000.") var evalN = 256
    @Option(help: "Sampler of the evaluations (see `launcher sample --help`).") var evalSampler: SamplerName = .sdeDPMSolverPlusPlus
    @Option(help: "Steps of the evaluation sampler (default 10 for the few-step samplers, else the sampler's own).")
    var evalSteps: Int?
    @Option(help: ArgumentHelp("Classifier folder for the evaluations' FID and KID (as `launcher fid --classifier`).",
                               valueName: "folder"))
    var classifier: String?

    /// Few-step samplers default to 10 steps here, the main job's sampling budget.
    var steps: Int? {
        evalSteps ?? ([.dpmSolverPlusPlus, .sdeDPMSolverPlusPlus, .eulerAncestral, .ddim].contains(evalSampler) ? 10 : nil)
    }

    func validate() throws {
        if let evalEvery { _ = try EvaluationCadence(parsing: evalEvery, name: "--eval-every") }
        try OptionCheck.integer(evalN, "--eval-n", 2...100_000)
        _ = try SamplerSpec.parse(evalSampler, steps: steps)
    }

    /// The settings, or nil without --eval-every. `dataDir` holds the real test images.
    func settings(dataDir: String, clip: Bool) throws -> TrainingEvaluation.Settings? {
        guard let evalEvery else { return nil }
        var s = TrainingEvaluation.Settings(cadence: try EvaluationCadence(parsing: evalEvery, name: "--eval-every"),
                                            spec: try SamplerSpec.parse(evalSampler, steps: steps))
        s.count = evalN
        s.clip = clip
        s.fid.classifierDirectory = ClassifierFolder.locate(given: classifier)
        s.fid.dataDirectory = dataDir
        return s
    }
}
