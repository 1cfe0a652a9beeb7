// spool
