"""Helpers for bench/run (Python 3.11 standard library only).

peers: throwaway vsftpd (FTP, explicit FTPS) and OpenSSH sshd (sftp, rsync over ssh) instances on 127.0.0.1,
used as reference peers when benchmarking Ferry.
"""
