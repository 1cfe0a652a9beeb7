// SpoolServerTests
