"""Every resource type token the program registers, spelled once.

A provider resource's token is ``<package>:<module>/<name>:<Type>``, the string its SDK class
(pulumi_aws 7, pulumi_random 4) passes to the engine when it registers; a component's is
``<project>:<module>:<Type>``, the one its ``ComponentResource`` passes (infra/components/).
The offline plan, the replacement table, the mocks, the policy pack, the demo and the tests
compare registrations with these constants; tests/infra/test_resource_types.py checks them
against the installed SDKs and against what the four stacks register.

No pulumi import: the policy pack and the pure-Python review modules read it.
"""

from __future__ import annotations

# --- SageMaker ------------------------------------------------------------------------------

ENDPOINT = "aws:sagemaker/endpoint:Endpoint"
ENDPOINT_CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
MODEL = "aws:sagemaker/model:Model"
MODEL_PACKAGE_GROUP = "aws:sagemaker/modelPackageGroup:ModelPackageGroup"
MODEL_PACKAGE_GROUP_POLICY = "aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy"
DATA_QUALITY_JOB = "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition"
MONITORING_SCHEDULE = "aws:sagemaker/monitoringSchedule:MonitoringSchedule"

# --- Application Auto Scaling ---------------------------------------------------------------

SCALABLE_TARGET = "aws:appautoscaling/target:Target"
SCALING_POLICY = "aws:appautoscaling/policy:Policy"
SCHEDULED_ACTION = "aws:appautoscaling/scheduledAction:ScheduledAction"

# --- CloudWatch -----------------------------------------------------------------------------

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"

# --- IAM, KMS -------------------------------------------------------------------------------

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
KMS_KEY = "aws:kms/key:Key"
KMS_ALIAS = "aws:kms/alias:Alias"

# --- S3 -------------------------------------------------------------------------------------

BUCKET = "aws:s3/bucket:Bucket"
BUCKET_ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
)
BUCKET_LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
BUCKET_OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
BUCKET_PUBLIC_ACCESS = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"

# --- the mlserve drift engine: EventBridge Scheduler, Lambda, SQS ----------------------------

SCHEDULE = "aws:scheduler/schedule:Schedule"
LAMBDA_FUNCTION = "aws:lambda/function:Function"
LAMBDA_LAYER = "aws:lambda/layerVersion:LayerVersion"
QUEUE = "aws:sqs/queue:Queue"

# --- SNS, Lambda ----------------------------------------------------------------------------

TOPIC = "aws:sns/topic:Topic"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
TOPIC_SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
# Registered for each alert subscription to a Lambda function (infra/components/alerting.py);
# none of the four stack files has one.
LAMBDA_PERMISSION = "aws:lambda/permission:Permission"

# --- random, Pulumi -------------------------------------------------------------------------

RANDOM_ID = "random:index/randomId:RandomId"
# The root of every stack, registered by the SDK itself; the offline plan leaves it out.
STACK = "pulumi:pulumi:Stack"
STACK_REFERENCE = "pulumi:pulumi:StackReference"

# --- the program's components (infra/components/) ---------------------------------------------

ARTIFACT_STORE = "mlserve:storage:ArtifactStore"
SECURE_BUCKET = "mlserve:storage:SecureBucket"
ENCRYPTION_KEY = "mlserve:security:EncryptionKey"
MODEL_ENDPOINT = "mlserve:serving:ModelEndpoint"
DRIFT_MONITOR = "mlserve:monitoring:DriftMonitor"
DRIFT_ENGINE = "mlserve:monitoring:DriftEngine"
ALERTING = "mlserve:observability:Alerting"
ENVIRONMENT_DASHBOARD = "mlserve:observability:EnvironmentDashboard"

COMPONENTS = frozenset(
    {
        ARTIFACT_STORE,
        SECURE_BUCKET,
        ENCRYPTION_KEY,
        MODEL_ENDPOINT,
        DRIFT_MONITOR,
        DRIFT_ENGINE,
        ALERTING,
        ENVIRONMENT_DASHBOARD,
    }
)

# --- types the program does not register ----------------------------------------------------
# The policy pack judges whatever a preview is about to create, and the plan checks whatever a
# plan holds, so both know the types through which a change could grant, attach or leave out
# what the program never does: an identity policy outside a role, an attached (managed) policy,
# a bucket's access logging.

IAM_POLICY = "aws:iam/policy:Policy"
USER_POLICY = "aws:iam/userPolicy:UserPolicy"
GROUP_POLICY = "aws:iam/groupPolicy:GroupPolicy"
ROLE_POLICY_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
USER_POLICY_ATTACHMENT = "aws:iam/userPolicyAttachment:UserPolicyAttachment"
GROUP_POLICY_ATTACHMENT = "aws:iam/groupPolicyAttachment:GroupPolicyAttachment"
POLICY_ATTACHMENT = "aws:iam/policyAttachment:PolicyAttachment"
BUCKET_LOGGING = "aws:s3/bucketLogging:BucketLogging"

NOT_REGISTERED = frozenset(
    {
        IAM_POLICY,
        USER_POLICY,
        GROUP_POLICY,
        ROLE_POLICY_ATTACHMENT,
        USER_POLICY_ATTACHMENT,
        GROUP_POLICY_ATTACHMENT,
        POLICY_ATTACHMENT,
        BUCKET_LOGGING,
    }
)

# --- groups ---------------------------------------------------------------------------------

# Policies attached to a principal, whose "policy" grants it permissions (the others that carry
# a document are resource policies, which name their principals).
IDENTITY_POLICY_TYPES = (ROLE_POLICY, IAM_POLICY, USER_POLICY, GROUP_POLICY)

# Every way to attach a managed policy to a role, user or group.
POLICY_ATTACHMENTS = (
    ROLE_POLICY_ATTACHMENT,
    USER_POLICY_ATTACHMENT,
    GROUP_POLICY_ATTACHMENT,
    POLICY_ATTACHMENT,
)
