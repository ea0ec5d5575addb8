import Foundation
import Testing
import Diffusion

/// The classifier is found from the executable's location, whatever the current folder;
/// its reference cache goes to the user's cache when the classifier's folder is read-only.
@Suite struct ClassifierLocationTests {
    func tree() throws -> String {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("locate-\(UUID().uuidString)").path
        let classifier = root + "/pkg/" + ClassifierFolder.defaultDirectory
        try FileManager.default.createDirectory(atPath: classifier, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: classifier + "/" + ClassifierFolder.weightsName, contents: Data())
        try FileManager.default.createDirectory(atPath: root + "/pkg/.build/release", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/elsewhere", withIntermediateDirectories: true)
        return root
    }

    @Test func foundAboveTheExecutableFromAnyFolder() throws {
        let root = try tree()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let expected = root + "/pkg/" + ClassifierFolder.defaultDirectory
        let found = ClassifierFolder.locate(given: nil, environment: [:], executable: root + "/pkg/.build/release/launcher",
                                            currentDirectory: root + "/elsewhere")
        #expect(URL(fileURLWithPath: found).resolvingSymlinksInPath() == URL(fileURLWithPath: expected).resolvingSymlinksInPath())
        // Through a symlink to the executable: its real path counts.
        try FileManager.default.createSymbolicLink(atPath: root + "/elsewhere/launcher",
                                                   withDestinationPath: root + "/pkg/.build/release/launcher")
        _ = FileManager.default.createFile(atPath: root + "/pkg/.build/release/launcher", contents: Data())
        let viaLink = ClassifierFolder.locate(given: nil, environment: [:], executable: "./launcher",
                                              currentDirectory: root + "/elsewhere")
        #expect(URL(fileURLWithPath: viaLink).resolvingSymlinksInPath() == URL(fileURLWithPath: expected).resolvingSymlinksInPath())
        // The option, then the environment variable, win.
        #expect(ClassifierFolder.locate(given: "/given", environment: [ClassifierFolder.environmentVariable: "/env"],
                                        executable: root + "/pkg/.build/release/launcher", currentDirectory: root) == "/given")
        #expect(ClassifierFolder.locate(given: nil, environment: [ClassifierFolder.environmentVariable: "/env"],
                                        executable: root + "/pkg/.build/release/launcher", currentDirectory: root) == "/env")
        // Nowhere to be found: the relative default, which loading reports as missing.
        #expect(ClassifierFolder.locate(given: nil, environment: [:], executable: "/nonexistent/bin/launcher",
                                        currentDirectory: root + "/elsewhere") == ClassifierFolder.defaultDirectory)
    }

    @Test func cacheGoesToTheUserCacheWhenTheClassifierFolderIsReadOnly() {
        #expect(ClassifierFolder.cacheDirectory(for: "/c", environment: [:], isWritable: { _ in true }) == "/c")
        #expect(ClassifierFolder.cacheDirectory(for: "/c", environment: ["XDG_CACHE_HOME": "/x", "HOME": "/h"],
                                                isWritable: { _ in false }) == "/x/fashion-diffusion")
        #expect(ClassifierFolder.cacheDirectory(for: "/c", environment: ["HOME": "/h"],
                                                isWritable: { _ in false }) == "/h/.cache/fashion-diffusion")
    }
}
