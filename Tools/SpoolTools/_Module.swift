// SpoolTools
