// SpoolToolsTests
