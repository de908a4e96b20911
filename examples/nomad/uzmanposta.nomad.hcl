# uzmanposta on Nomad: a periodic batch job whose group runs 3 allocations;
# allocation I collects shard I/3 (NOMAD_ALLOC_INDEX is 0..count-1). Keep
# `count` and --shard-count equal. The host volume "uzmanposta-data" must be
# shared storage (NFS, CephFS) mounted on every client that may run the job,
# declared in each client's config as a host_volume.
job "uzmanposta" {
  type = "batch"

  periodic {
    crons            = ["*/5 * * * *"]
    prohibit_overlap = true
  }

  group "shards" {
    count = 3

    restart {
      attempts = 0
      mode     = "fail"
    }

    volume "data" {
      type      = "host"
      source    = "uzmanposta-data"
      read_only = false
    }

    task "collect" {
      driver = "docker"

      config {
        image = "uzmanposta:latest"
        args  = ["--config", "/local/uzmanposta.ini", "--all", "--parallel", "--json", "--shard-count", "3"]
      }

      env {
        UZP_SHARD_INDEX = "${NOMAD_ALLOC_INDEX}"
      }

      volume_mount {
        volume      = "data"
        destination = "/data"
      }

      # The key from Nomad Variables, written where api_key_file points.
      template {
        destination = "secrets/api_key"
        perms       = "0400"
        data        = "{{ with nomadVar \"nomad/jobs/uzmanposta\" }}{{ .api_key }}{{ end }}"
      }

      template {
        destination = "local/uzmanposta.ini"
        data        = <<-INI
          [DEFAULT]
          api_key_file = /secrets/api_key
          log_directory = /data/output
          position_file = /data/state/positions/{section}.pos
          lock_file_path = /data/state/locks/{section}.lock

          [MailLogger:example.com-incoming]
          domain = example.com
          category = mail
          type = incominglog
        INI
      }

      resources {
        cpu    = 250
        memory = 256
        memory_max = 512
      }
    }
  }
}
