// SpoolFormatTests
